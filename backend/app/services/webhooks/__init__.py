"""Webhooks: users register endpoints; events are written as deliveries in the transaction that
made them happen (`events.py`), and a background loop beside the job workers signs and sends
them, retrying with backoff (`sender.py`), to public addresses only (`addresses.py`)."""
