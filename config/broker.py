"""The embedded broker of the demo: kombu's filesystem transport, made safe against half-written files.

kombu's own producer creates the message file under its final name and only then writes it, and its
consumer takes any file with that name without the writer's lock: a worker that lists the folder at the
wrong moment reads an empty file, `json.loads` raises, and Celery stops the worker for good
("Unrecoverable error: JSONDecodeError"; issue 13). Here the producer writes under a name no consumer
takes and renames the finished file into place (a rename is atomic), and the consumer leaves a file it
cannot parse for a while (a writer may still be at it) and then moves it aside with a logged error: a
worker never dies of a file, and a well-formed message is never dropped.

config.celery puts it in the place of kombu's own, so that every filesystem:// URL in every process
(web, worker, beat, manage.py) uses it, and a broker URL changed at run time (tests) still chooses.
"""

import contextlib
import logging
import os
import time
import uuid
from pathlib import Path
from queue import Empty

from kombu.transport import TRANSPORT_ALIASES, filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

# How long a file that does not parse may still be in the writer's hands (kombu's own producer, from an
# older process, or one that crashed mid-write) before it is moved aside.
UNREADABLE_GRACE_SECONDS = 10.0
# The suffix of a file being written: it never ends with ".<queue>.msg", so no consumer lists it.
WRITING_SUFFIX = ".writing"
EXCHANGE_READ_ATTEMPTS = 50


class Channel(filesystem.Channel):
    def get_table(self, exchange):
        # kombu creates an exchange's file, then locks and writes it: a reader in between finds it empty.
        for _ in range(EXCHANGE_READ_ATTEMPTS - 1):
            try:
                return super().get_table(exchange)
            except ValueError:
                time.sleep(0.01)
        return super().get_table(exchange)

    def _put(self, queue, payload, **kwargs):
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        writing = final + WRITING_SUFFIX
        try:
            with open(writing, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(writing, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(writing)
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue):
        suffix = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != suffix:
                continue
            path = os.path.join(self.data_folder_in, name)
            try:
                raw = Path(path).read_bytes()
            except FileNotFoundError:  # another consumer took it
                continue
            try:
                payload = loads(bytes_to_str(raw))
            except ValueError:
                self._set_aside_if_abandoned(path)
                continue
            # Claiming is removing (or moving) the file: of two consumers that read it, one succeeds.
            try:
                if self.store_processed:
                    os.replace(path, os.path.join(self.processed_folder, name))
                else:
                    os.remove(path)
            except FileNotFoundError:
                continue
            return payload
        raise Empty()

    def _set_aside_if_abandoned(self, path: str) -> None:
        try:
            age = time.time() - os.stat(path).st_mtime
        except FileNotFoundError:
            return
        if age < self.unreadable_grace_seconds:
            return  # a writer may still be at it: the next poll reads it again
        destination = Path(self.unreadable_folder)
        destination.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, destination / os.path.basename(path))
            logger.error(
                "broker: %s did not parse for %.0f s; moved to %s (the message in it is lost)",
                os.path.basename(path),
                age,
                destination,
            )

    @property
    def unreadable_grace_seconds(self) -> float:
        return float(self.transport_options.get("unreadable_grace_seconds", UNREADABLE_GRACE_SECONDS))

    @property
    def unreadable_folder(self) -> str:
        return self.transport_options.get(
            "unreadable_folder", os.path.join(self.data_folder_in, "unreadable")
        )


class Transport(filesystem.Transport):
    Channel = Channel
    global_state = virtual.BrokerState()


def replace_kombus_filesystem_transport() -> None:
    TRANSPORT_ALIASES["filesystem"] = f"{__name__}:Transport"
