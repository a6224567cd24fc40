"""Keep each user's defaults in place: the "All the time" time slot and managed destinations."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from fleetwatch.accounts.models import PhoneNumber
from fleetwatch.notifications import services


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="notifications-user-defaults")
def user_saved(sender, instance, created: bool, raw: bool = False, update_fields=None, **kwargs):
    if raw:
        return
    if created:
        services.ensure_user_defaults(instance)
    elif update_fields is None or "email" in update_fields:
        services.sync_email_destination(instance)


@receiver(post_save, sender=PhoneNumber, dispatch_uid="notifications-phone-destination")
def phone_number_saved(sender, instance, raw: bool = False, **kwargs):
    if not raw:
        services.sync_phone_destination(instance)
