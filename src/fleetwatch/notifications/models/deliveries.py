"""The notification outbox: one row per event and destination, written in the event's own
transaction (``fleetwatch.notifications.outbox``) and sent by the workers
(``fleetwatch.notifications.delivery``).

``message`` is the rendered snapshot of the event and its incident as they were when the event
was recorded, so a start notification sent late (retries, a profile's delay) never shows the
end. The unique (event, destination) pair is the "at most one message per event and
destination" rule, also when two profiles of one user match.
"""

from django.db import models
from django.utils import timezone


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        DROPPED = "dropped", "Dropped"

    event = models.ForeignKey(
        "incidents.Event", on_delete=models.CASCADE, related_name="deliveries"
    )
    destination = models.ForeignKey(
        "notifications.Destination", on_delete=models.CASCADE, related_name="deliveries"
    )
    profile = models.ForeignKey(
        "notifications.NotificationProfile",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    # Copied from the destination when written: the log and the metrics need no join, and a
    # destination whose medium changed keeps its history right.
    media = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Due time while pending; while sending, the end of the claim (a worker that dies
    # mid-send leaves the row to be claimed again after it).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A profile's delay: drop the message if the incident ended or was acked meanwhile.
    drop_if_resolved = models.BooleanField(default=False)
    last_error = models.TextField(blank=True, default="")
    provider_message_id = models.TextField(blank=True, default="")
    message = models.JSONField(default=dict)
    created = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "destination"], name="notif_delivery_once_per_destination"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="notif_delivery_due",
            ),
            models.Index(fields=["destination", "-created"], name="notif_delivery_destination"),
            # The console's delivery log for staff (every delivery, newest first, keyset-paged
            # on created and id): without it each page sorted the whole table.
            models.Index(fields=["-created", "-id"], name="notif_delivery_created"),
        ]

    def __str__(self) -> str:
        return f"Delivery #{self.pk} of event #{self.event_id} to {self.media} ({self.status})"
