"""Notifications: profiles, time slots, filters, destinations, media and planned maintenance."""
