"""The demo's embedded broker (config.broker) survives the half-written message file that stopped the
demo's worker for good (issue 13): its producer renames finished files into place, and its consumer
leaves a file that does not parse for a while, then moves it aside, never raising."""

import logging
import os
import threading
import time

import pytest
from kombu import Connection
from kombu.transport import filesystem

from config import broker


def folders(tmp_path) -> dict[str, str]:
    queue = tmp_path / "queue"
    queue.mkdir()
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(tmp_path / "control"),
        "processed_folder": str(tmp_path / "processed"),
        "unreadable_folder": str(tmp_path / "unreadable"),
        "store_processed": False,
    }


@pytest.fixture
def connection(tmp_path):
    options = folders(tmp_path)
    with Connection("filesystem://", transport_options=options) as conn:
        yield conn


def message_file(tmp_path, name: str, content: bytes, *, age: float = 0.0):
    path = tmp_path / "queue" / name
    path.write_bytes(content)
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def test_every_filesystem_broker_url_of_the_project_uses_this_transport():
    from config.celery import app

    with Connection("filesystem://") as conn:
        assert isinstance(conn.transport, broker.Transport)
    with app.connection_for_write("filesystem://localhost/") as conn:
        assert isinstance(conn.transport, broker.Transport)


def test_kombus_own_consumer_raises_on_an_empty_message_file(tmp_path):
    """The bug, as shipped: the error that made Celery stop the worker for good."""
    with Connection(
        "filesystem://", transport=filesystem.Transport, transport_options=folders(tmp_path)
    ) as conn:
        message_file(tmp_path, "1_a.jobs.msg", b"")
        with pytest.raises(ValueError):
            conn.default_channel._get("jobs")


def test_an_empty_file_is_skipped_and_the_messages_after_it_are_delivered(connection, tmp_path):
    channel = connection.default_channel
    empty = message_file(tmp_path, "1_a.jobs.msg", b"")
    partial = message_file(tmp_path, "2_b.jobs.msg", b'{"body": "hal')
    channel._put("jobs", {"body": "whole"})

    assert channel._get("jobs") == {"body": "whole"}
    with pytest.raises(filesystem.Empty):
        channel._get("jobs")
    assert empty.exists() and partial.exists()  # young: a writer may still be at it


def test_a_file_finished_late_is_delivered_whole(connection, tmp_path):
    channel = connection.default_channel
    late = message_file(tmp_path, "1_a.jobs.msg", b"")
    with pytest.raises(filesystem.Empty):
        channel._get("jobs")
    late.write_bytes(b'{"body": "late"}')
    assert channel._get("jobs") == {"body": "late"}
    assert not late.exists()


def test_a_file_that_stays_unreadable_is_moved_aside_with_an_error(connection, tmp_path, caplog):
    channel = connection.default_channel
    grace = broker.UNREADABLE_GRACE_SECONDS
    message_file(tmp_path, "1_a.jobs.msg", b"", age=grace + 1)
    message_file(tmp_path, "2_b.jobs.msg", b"{", age=grace - 2)
    with caplog.at_level(logging.ERROR, logger="config.broker"), pytest.raises(filesystem.Empty):
        channel._get("jobs")
    assert sorted(os.listdir(tmp_path / "queue")) == ["2_b.jobs.msg"]
    assert os.listdir(tmp_path / "unreadable") == ["1_a.jobs.msg"]
    assert "1_a.jobs.msg did not parse" in caplog.text


def test_the_producer_never_shows_a_file_before_it_is_whole(connection, tmp_path, monkeypatch):
    """While the producer writes, the queue folder holds no file a consumer would take."""
    seen_while_writing = []
    real_dumps = broker.dumps

    def dumps_and_look(payload):
        seen_while_writing.extend(os.listdir(tmp_path / "queue"))
        return real_dumps(payload)

    monkeypatch.setattr(broker, "dumps", dumps_and_look)
    connection.default_channel._put("jobs", {"body": "x"})
    [name] = os.listdir(tmp_path / "queue")
    assert name.endswith(".jobs.msg")
    assert all(not seen.endswith(".msg") for seen in seen_while_writing)


def test_a_consumer_racing_kombus_slow_writer_gets_every_message_whole(connection, tmp_path):
    """A writer that creates the file first and writes it in pieces (kombu's own producer, slowed
    down), against this consumer polling all the while: no error, no message lost or torn."""
    channel = connection.default_channel
    count = 40
    received = []

    def slow_writer():
        for n in range(count):
            with open(tmp_path / "queue" / f"{n:04d}_x.jobs.msg", "wb", buffering=0) as file:
                body = f'{{"n": {n}, "padding": "{"x" * 200}"}}'.encode()
                file.write(body[:10])
                time.sleep(0.002)
                file.write(body[10:])

    writer = threading.Thread(target=slow_writer)
    writer.start()
    deadline = time.monotonic() + 20
    while len(received) < count and time.monotonic() < deadline:
        try:
            received.append(channel._get("jobs")["n"])
        except filesystem.Empty:
            time.sleep(0.001)
    writer.join()
    assert sorted(received) == list(range(count))
    assert os.listdir(tmp_path / "queue") == []


def test_an_exchange_file_read_before_kombu_writes_it_is_read_again(connection, tmp_path):
    channel = connection.default_channel
    (tmp_path / "control").mkdir()
    table = tmp_path / "control" / "fan.exchange"
    table.write_bytes(b"")
    threading.Timer(0.05, lambda: table.write_bytes(b'[["", "", "q1"]]')).start()
    assert [entry.queue for entry in channel.get_table("fan")] == ["q1"]
