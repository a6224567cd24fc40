"""Shared constants for the notification tests."""

P1 = "/api/v1/notificationprofiles/"
P2 = "/api/v2/notificationprofiles/"
