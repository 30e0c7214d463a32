from django.db import models


class Heartbeat(models.Model):
    """When a Celery worker last ran a task of the beat schedule (config.tasks.heartbeat): one row per
    name, updated in place. In the database because the web process must see what the worker wrote,
    and the demo's cache is each process's own memory."""

    name = models.CharField(max_length=32, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
