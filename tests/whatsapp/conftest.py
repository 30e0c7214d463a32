import pytest

from tests.whatsapp.fake_graph import FakeGraph


@pytest.fixture
def fake_graph():
    """A Graph API stand-in on 127.0.0.1, fresh for each test."""
    with FakeGraph() as fake:
        yield fake
