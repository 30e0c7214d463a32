"""How the project connects to PostgreSQL."""

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_postgresql_connections_run_without_jit():
    # JIT compiled the reports' grouped queries for 1.7 s before running them in milliseconds
    # (README, Reports benchmark): the settings turn it off per connection.
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
