"""The event types a webhook endpoint can subscribe to (docs/webhooks.md shows a payload of each)."""

EVENT_TYPES: dict[str, str] = {
    "key.created": "A key was generated (also the new key of a rotation)",
    "key.rotated": "A key was rotated (the old key's ID, the new one's, when the old one stops)",
    "key.revoked": "A key was revoked (reason: manual, leaked, cli, admin or rotated)",
    "key.deleted": "A key was deleted",
    "key.updated": "A key's name, permissions, rate limit, addresses or scope changed",
    "key.disabled": "A key was disabled",
    "key.enabled": "A key was enabled again",
    "key.expiring": "A key expires in 30, 7 or 1 days",
    "key.leaked": "A key was reported found in public (and revoked)",
    "member.added": "Someone joined the project",
    "member.removed": "A member was removed or left",
    "member.role_changed": "A member's role changed",
    "invitation.created": "An invitation was sent",
    "invitation.accepted": "An invitation was accepted",
    "policy.changed": "The project's key policy changed",
    "webhook.test": "Send test event (always delivered to the endpoint it was sent from)",
}

# What an endpoint can choose (a test event is sent on demand, to one endpoint, whatever it chose).
SUBSCRIBABLE = [name for name in EVENT_TYPES if name != "webhook.test"]
