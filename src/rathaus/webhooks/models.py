"""Webhook subscriptions of a tenant and the delivery of each outbox event to each of them (the delivery log)."""

from django.db import models

from rathaus.tenants.models import Tenant


class Subscription(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_subscriptions")
    name = models.CharField("Bezeichnung", max_length=200, blank=True)
    url = models.CharField("Adresse", max_length=2000)
    # event types ("case.submitted") or families ("case.*"); empty: every event
    event_types = models.JSONField("Ereignisarten", default=list, blank=True)
    secret = models.CharField(max_length=200)  # Standard Webhooks: whsec_<base64>
    active = models.BooleanField("aktiv", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Webhook-Abonnement"
        verbose_name_plural = "Webhook-Abonnements"
        ordering = ["id"]

    def __str__(self):
        return self.name or self.url

    def wants(self, event_type: str) -> bool:
        if not self.event_types:
            return True
        family = event_type.split(".", 1)[0] + ".*"
        return event_type in self.event_types or family in self.event_types


class Delivery(models.Model):
    PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
    STATUS = [(PENDING, "ausstehend"), (DELIVERED, "zugestellt"), (DEAD, "aufgegeben")]

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries",
                                     db_index=False)  # the unique (subscription, event_id) leads with it
    event_id = models.BigIntegerField()  # events.OutboxEvent id: the CloudEvent's id, the same on every attempt
    event_type = models.CharField(max_length=100)
    aggregate = models.CharField(max_length=120)  # "case:17": events of one aggregate go out in order
    status = models.CharField(max_length=10, choices=STATUS, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.CharField(max_length=1024, blank=True)  # at most 1 KB of the receiver's answer
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Webhook-Zustellung"
        verbose_name_plural = "Webhook-Zustellungen"
        constraints = [models.UniqueConstraint(fields=["subscription", "event_id"], name="delivery_unique_event")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            # the due batches go by id: without it the scan walks past every delivered row of a large backlog
            models.Index(fields=["id"], name="delivery_pending_by_id", condition=models.Q(status="pending")),
            models.Index(fields=["subscription", "aggregate", "id"], name="delivery_aggregate_order"),
        ]

    def __str__(self):
        return f"{self.event_type} #{self.event_id} → {self.subscription_id}: {self.status}"


class Pump(models.Model):
    """The one running chain of the webhook pump (fan-out and delivery, `webhooks.tasks.pump`).

    `token` names the chain the worker started last: a task of an older chain ends without rescheduling;
    `busy_until` keeps two runs from overlapping (a run takes it for its time budget)."""

    name = models.CharField(max_length=50, primary_key=True)
    token = models.CharField(max_length=64)
    busy_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name}: {self.token[:8]}"
