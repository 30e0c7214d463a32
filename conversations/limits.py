"""The platform's limits that our rules and forms check before the platform would (whatsapp-cloud-api.md),
in one place. Pure Python: no Django (an import contract says so)."""

TEXT_MAX_CHARS = 4096  # a text message's body
CALLBACK_DATA_MAX_CHARS = 512  # the `biz_opaque_callback_data` echoed back in status webhooks
