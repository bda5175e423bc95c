"""Models of the admin side: the shape every configuration object shares, global settings,
licenses, users, and the revisions of the configuration document."""

from django.db import models


class ConfigObject(models.Model):
    """A named configuration object in the vTM REST shape.

    `properties` holds the values that were set, as `{section: {key: value}}`;
    defaults come from the schema when the object is read, so a schema upgrade
    that changes a default changes it for every object that never set it.
    """

    name = models.CharField(max_length=255, unique=True)
    properties = models.JSONField(default=dict)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return self.name


class RawConfigObject(models.Model):
    """A named configuration object whose body is raw text (a rule, a license key)."""

    name = models.CharField(max_length=255, unique=True)
    text = models.TextField(blank=True, default="")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return self.name


class GlobalSettings(ConfigObject):
    """The cluster-wide settings: one object, named `global_settings`."""


class LicenseKey(RawConfigObject):
    """A license key file, as uploaded."""


class UserGroup(ConfigObject):
    """A group of Admin UI / REST API users and its permissions."""


class User(ConfigObject):
    """A local user of the Admin UI and the REST API; `properties.basic.password` is a hash."""


class ConfigRevision(models.Model):
    """One revision of the whole configuration, as the canonical document."""

    number = models.PositiveIntegerField(unique=True)
    digest = models.CharField(max_length=64)
    document = models.TextField()
    reason = models.CharField(max_length=255, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self):
        return f"revision {self.number}"


class EnginePush(models.Model):
    """Pushing one revision to one target (the local engine, or a cluster member)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    revision = models.ForeignKey(ConfigRevision, on_delete=models.CASCADE, related_name="pushes")
    target = models.CharField(max_length=255, default="local")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    log = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
