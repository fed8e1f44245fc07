"""`rathaus demo_receivers`: the demo's webhook receivers on loopback, one per agency of § 14 GewO (Finanzamt,
IHK, Statistisches Landesamt, Gewerbeaufsicht). Each checks the signature with its subscription's secret and
prints what arrives; `make demo` starts them beside the server and the worker."""

import signal
import threading

from django.core.management.base import BaseCommand

from rathaus.demo.receivers import AGENCIES, Receiver
from rathaus.webhooks.models import Subscription


class Command(BaseCommand):
    help = "Startet die Webhook-Empfänger der Demo (Behörden nach § 14 GewO) auf 127.0.0.1."

    def handle(self, *args, **opts):
        receivers = []
        for _key, name, port in AGENCIES:
            sub = Subscription.objects.filter(url=f"http://127.0.0.1:{port}/gewerbe").order_by("id").first()
            try:
                receivers.append(Receiver(port, secret=sub.secret if sub else None, name=name, echo=True,
                                          path="/gewerbe").start())
            except OSError as e:
                self.stderr.write(f"{name}: Port {port} nicht verfügbar ({e})")
        self.stdout.write("Webhook-Empfänger: " + ", ".join(f"{r.name} ({r.url})" for r in receivers))
        stop = threading.Event()
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, lambda *_: stop.set())
        stop.wait()
        for r in receivers:
            r.stop()
