"""Domain signals: how the project layer tells higher layers (the runtime API's caches) that
something changed that Django's own model signals do not report."""

from django.dispatch import Signal

# Sent with `project` when questions were added in bulk (bulk_create sends no post_save): the
# project's question gate may have moved.
questions_bulk_added = Signal()
