import pytest

from tests.whatsapp.fake_graph import FakeGraph


@pytest.fixture
def fake_graph():
    """A Graph API stand-in on 127.0.0.1 (a real HTTP server), fresh for each test."""
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def graph_settings(settings, fake_graph):
    """Point the app at the loopback Graph API with credentials, as production would be configured."""
    settings.WHATSAPP_SANDBOX = False
    settings.WHATSAPP_API_BASE = fake_graph.url
    settings.WHATSAPP_API_VERSION = "v23.0"
    settings.WHATSAPP_ACCESS_TOKEN = "test-token"
    settings.WHATSAPP_BUSINESS_ACCOUNT_ID = "102290129340398"
    settings.WHATSAPP_PHONE_NUMBER_ID = "106540352242922"
    return settings
