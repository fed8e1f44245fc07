"""Notices (Bescheide) and receipts (Eingangsbestätigungen) as PDF/A, rendered with Typst."""
