"""The platform's limits that our rules and forms check before the platform would (whatsapp-cloud-api.md),
in one place. Pure Python: no Django (an import contract says so)."""

TEXT_MAX_CHARS = 4096  # a text message's body
CALLBACK_DATA_MAX_CHARS = 512  # the `biz_opaque_callback_data` echoed back in status webhooks

# Messages that carry a file the platform keeps for us by id: fetched at once and kept (MessageMedia).
MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
# "The media id lives about 7 days" (whatsapp-cloud-api.md): a file not fetched by then is lost for good.
MEDIA_ID_LIFETIME_DAYS = 7

# What an agent can react with (the inbox offers these; the server takes nothing else), and how old a
# message the platform still takes a reaction to (Meta, "Reaction messages": not past 30 days).
REACTION_EMOJIS = ("👍", "❤️", "😂", "😮", "😢", "🙏")
REACTION_WITHIN_DAYS = 30

# Files agents send: the message types, and the caption a photo, a video or a document may carry (the
# platform takes none on a recording). Uploaded media lives 30 days at the platform.
OUTBOUND_MEDIA_TYPES = ("image", "video", "audio", "document")
CAPTIONED_MEDIA_TYPES = frozenset({"image", "video", "document"})
CAPTION_MAX_CHARS = 1024
UPLOADED_MEDIA_LIFETIME_DAYS = 30
