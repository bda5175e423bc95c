"""Generic Admin UI pages for configuration objects, as NetBox's generic views: list, view, add, edit, delete.

Forms never validate on their own: `ConfigObjectForm.clean()` runs the services' validator
(`validate_object`, the one the REST API uses) and puts each SchemaErrors entry next to its field;
`save()` goes through `config_object_put`, so a refused value saves nothing.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views import View

from vtmadmin import schema
from vtmadmin.registry import TYPES, ObjectType
from vtmadmin.schema import SchemaErrors
from vtmadmin.services.config import (
    PROTECTED,
    ObjectInUse,
    ObjectNotFound,
    ObjectProtected,
    PutResult,
    config_object_delete,
    config_object_put,
    object_names,
    references_to,
    validate_object,
)
from vtmadmin.services.diagnose import object_warnings
from vtmadmin.ui_permissions import can_change, require_change, require_view

_WHERE = re.compile(r"^[a-z_]+\.[a-z_]+(?: row \d+ [a-z_]+)?: ")
_ROW = re.compile(r" row (\d+) ([a-z_]+): ")


def user_words(error_text: str) -> str:
    """A schema error without its "section.key: " prefix: the field it sits next to says that already."""
    return _WHERE.sub("", error_text, count=1)


def name_choices(path: str, *, blank: str | None = None, keep: list[str] | tuple[str, ...] = ()) -> list[tuple]:
    """Choices naming the objects of a type; names already stored but missing are kept so an edit does not drop them."""
    names = object_names(otype=TYPES[path])
    names += [n for n in keep if n and n not in names]
    choices = [(n, n) for n in names]
    return [("", blank), *choices] if blank is not None else choices


def reason(request, verb: str, otype: ObjectType, name: str) -> str:
    """The audit line a change is recorded with (System > Audit Log)."""
    return f"{request.user.username} {verb} {otype.path} '{name}' (Admin UI)"


class ConfigObjectForm(forms.Form):
    """A form for one configuration object: each field maps to a (section, key) of the schema."""

    otype_path = ""
    label_suffix = ""
    keys: dict[str, tuple[str, str]] = {}
    list_fields: tuple[str, ...] = ()  # text areas holding one list entry per line
    view_exclude: tuple[str, ...] = ()  # fields not shown on the object's page

    name = forms.CharField(max_length=255, help_text="Names may not contain '/' or start with '.'")

    def __init__(self, data=None, *, name: str | None = None, stored: dict | None = None, **kwargs):
        self.object_name = name
        self.stored = stored
        self.full = schema.with_defaults(self.otype.schema, stored or {}) if not self.otype.raw else {}
        initial = {"name": name} if name else {}
        for fname, (section, key) in self.keys.items():
            initial[fname] = self.to_field(fname, self.full[section][key])
        super().__init__(data, initial=initial, **kwargs)
        if name is not None:
            self.fields["name"].disabled = True
        self.setup()
        for each in self.fields.values():
            if isinstance(each, forms.MultipleChoiceField) and not each.choices and not each.help_text:
                each.help_text = "There are none yet."

    @property
    def otype(self) -> ObjectType:
        return TYPES[self.otype_path]

    @property
    def creating(self) -> bool:
        return self.object_name is None

    def setup(self) -> None:
        """Fill choices that depend on other objects."""

    def to_field(self, fname: str, value):
        if fname in self.list_fields:
            return "\n".join(value)
        return value

    def from_field(self, fname: str, value):
        if fname in self.list_fields:
            return [v for v in re.split(r"[\s,]+", value or "") if v]
        if isinstance(self.fields[fname], forms.MultipleChoiceField):
            return list(value)
        return value

    def clean_name(self):
        name = self.object_name or self.cleaned_data.get("name", "")
        if why := schema.name_error(name):
            raise forms.ValidationError(why)
        if self.creating and self.otype.model.objects.filter(name=name).exists():
            raise forms.ValidationError(f"A {self.otype.schema.replace('_', ' ')} named '{name}' already exists")
        return name

    def properties(self) -> dict:
        """What the form changes: the keys whose value differs from what is stored (or required when creating)."""
        specs = schema.sections(self.otype.schema)
        out: dict = {}
        for fname, (section, key) in self.keys.items():
            if fname not in self.cleaned_data or self.not_posted(fname):
                continue
            value = self.from_field(fname, self.cleaned_data[fname])
            required = self.creating and specs[section][key].get("required")
            if value != self.full[section][key] or required:
                out.setdefault(section, {})[key] = value
        for section, keys in self.extra_properties().items():
            out.setdefault(section, {}).update(keys)
        return out

    def not_posted(self, fname: str) -> bool:
        """A text or choice field missing from the POST keeps its value (unticked boxes are never posted)."""
        field = self.fields[fname]
        if isinstance(field, (forms.BooleanField, forms.MultipleChoiceField)):
            return False
        return self.add_prefix(fname) not in self.data

    def extra_properties(self) -> dict:
        """Keys a subclass builds itself (a table edited as rows, a generated certificate)."""
        return {}

    def value(self):
        return self.properties()

    def clean(self):
        """Run the services' validation on what the fields hold, so every refused value is marked at once."""
        cleaned = super().clean()
        if "name" not in cleaned:
            return cleaned
        try:
            validate_object(otype=self.otype, name=cleaned["name"], value=self.value(), stored=self.stored)
        except SchemaErrors as e:
            self.add_schema_errors(e)
        return cleaned

    def field_for(self, section: str, key: str) -> str | None:
        for fname, where in self.keys.items():
            if where == (section, key):
                return fname
        return None

    def add_schema_errors(self, errors: SchemaErrors) -> None:
        if not errors.info:
            self.add_error(None, errors.text)
        for section, keys in errors.info.items():
            if "error_text" in keys:
                self.add_error(None, keys["error_text"])
                continue
            for key, err in keys.items():
                if not self.add_table_error(section, key, err["error_text"]):
                    fname = self.field_for(section, key)
                    if fname in self.errors:
                        continue  # the field's own message already says it
                    self.add_error(fname, user_words(err["error_text"]) if fname else err["error_text"])

    def add_table_error(self, section: str, key: str, text: str) -> bool:
        """Put an error about a table row next to that row; False when this form has no such table."""
        return False

    def save(self, *, request) -> PutResult:
        name = self.cleaned_data["name"]
        verb = "created" if self.creating else "changed"
        return config_object_put(otype=self.otype, name=name, value=self.value(), reason=reason(request, verb,
                                                                                                  self.otype, name))

    def display_rows(self) -> list[tuple[str, Any]]:
        """(label, value) of every field, for the object's page."""
        rows = []
        for fname, bound in self.fields.items():
            if fname == "name" or fname in self.view_exclude or isinstance(bound.widget, forms.HiddenInput):
                continue
            value = self.initial.get(fname, "")
            if isinstance(value, list):
                value = ", ".join(value) or "—"
            elif isinstance(value, bool):
                value = "Yes" if value else "No"
            elif isinstance(bound, forms.ChoiceField) and not isinstance(bound, forms.MultipleChoiceField):
                value = dict(bound.choices).get(value, value) or "—"
            rows.append((bound.label or fname.replace("_", " ").capitalize(), value if value != "" else "—"))
        return rows


@dataclass(frozen=True)
class Column:
    """A column of an object list: its heading and the cell of one object (name, properties with defaults)."""

    label: str
    cell: Callable[[str, dict], Any]


@dataclass(frozen=True)
class ObjectPage:
    """The Admin UI pages of one configuration object type."""

    path: str  # registry path: "pools", "ssl/server_keys"
    slug: str  # URL segment and URL name prefix: "pools", "ssl-server-keys"
    verbose: str  # "pool"
    plural: str  # "Pools"
    form: type[ConfigObjectForm]
    columns: tuple[Column, ...] = ()
    description: str = ""
    view_template: str = "generic/object.html"
    edit_template: str = "generic/object_edit.html"
    extra_context: Callable[[str], dict] | None = None

    @property
    def otype(self) -> ObjectType:
        return TYPES[self.path]

    def url(self, action: str, name: str | None = None) -> str:
        if name is None:
            return reverse(f"{self.slug}_{action}")
        return reverse(f"{self.slug}_{action}", kwargs={"name": name})


SECRET_KEYS = {"private", "password", "auth_password", "priv_password"}


def masked(properties: dict) -> dict:
    """Properties for display: private keys and passwords are never sent to the browser."""
    return {section: {k: ("(hidden)" if k in SECRET_KEYS and v else v) for k, v in keys.items()}
            for section, keys in properties.items()}


def stored_value(otype: ObjectType, name: str):
    obj = otype.model.objects.filter(name=name).first()
    if obj is None:
        raise Http404(f"There is no {otype.path} named '{name}'")
    return obj.text if otype.raw else obj.properties


class PageView(View):
    page: ObjectPage = None

    def context(self, **kw) -> dict:
        return {"page": self.page, "can_change": can_change(self.request.user, self.page.path), **kw}


class ObjectListView(PageView):
    def get(self, request):
        require_view(request, self.page.path)
        otype = self.page.otype
        rows = []
        for obj in otype.model.objects.order_by("name"):
            body = obj.text if otype.raw else schema.with_defaults(otype.schema, obj.properties)
            rows.append({"name": obj.name, "url": self.page.url("view", obj.name),
                         "cells": [c.cell(obj.name, body) for c in self.page.columns]})
        return render(request, "generic/object_list.html", self.context(rows=rows))


class ObjectDetailView(PageView):
    def get(self, request, name):
        require_view(request, self.page.path)
        otype = self.page.otype
        stored = stored_value(otype, name)
        form = self.page.form(name=name, stored=None if otype.raw else stored) if not otype.raw else None
        context = self.context(
            name=name, form=form, text=stored if otype.raw else None,
            rows=form.display_rows() if form else [],
            warnings=object_warnings(otype=otype, name=name), dependents=references_to(otype=otype, name=name),
            properties_json=json.dumps(masked(stored), indent=2, sort_keys=True) if not otype.raw else "",
        )
        context.update(self.page.extra_context(name) if self.page.extra_context else {})
        return render(request, self.page.view_template, context)


class ObjectEditView(PageView):
    """Add (no name) or edit (a name) an object."""

    def form(self, name, data=None, files=None):
        otype = self.page.otype
        stored = stored_value(otype, name) if name is not None else None
        return self.page.form(data, files=files, name=name, stored=stored)

    def get(self, request, name=None):
        require_view(request, self.page.path)
        require_change(request, self.page.path)
        return render(request, self.page.edit_template, self.context(name=name, form=self.form(name)))

    def post(self, request, name=None):
        require_change(request, self.page.path)
        form = self.form(name, request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.page.edit_template, self.context(name=name, form=form), status=400)
        result = form.save(request=request)
        saved = form.cleaned_data["name"]
        messages.success(request, f"{'Created' if result.created else 'Saved'} {self.page.verbose} '{saved}'."
                         + (" It has problems, listed below." if result.warnings else ""))
        return redirect(self.page.url("view", saved))  # the object's page lists its warnings


class ObjectDeleteView(PageView):
    def get(self, request, name):
        require_change(request, self.page.path)
        stored_value(self.page.otype, name)
        return render(request, "generic/object_delete.html", self.context(
            name=name, dependents=references_to(otype=self.page.otype, name=name),
            protected=(self.page.path, name) in PROTECTED))

    def post(self, request, name):
        require_change(request, self.page.path)
        try:
            config_object_delete(otype=self.page.otype, name=name, reason=reason(request, "deleted", self.page.otype,
                                                                                 name))
        except ObjectNotFound:
            raise Http404(f"There is no {self.page.verbose} named '{name}'") from None
        except ObjectInUse as e:
            return render(request, "generic/object_delete.html", self.context(name=name, dependents=e.users),
                          status=409)
        except ObjectProtected as e:
            messages.error(request, str(e))
            return redirect(self.page.url("view", name))
        messages.success(request, f"Deleted {self.page.verbose} '{name}'.")
        return redirect(self.page.url("list"))


def object_urls(page: ObjectPage) -> list:
    """The five routes of an object type, under /config/<slug>/."""
    base = f"config/{page.slug}/"
    return [
        path(base, ObjectListView.as_view(page=page), name=f"{page.slug}_list"),
        path(f"{base}add/", ObjectEditView.as_view(page=page), name=f"{page.slug}_add"),
        path(f"{base}<str:name>/", ObjectDetailView.as_view(page=page), name=f"{page.slug}_view"),
        path(f"{base}<str:name>/edit/", ObjectEditView.as_view(page=page), name=f"{page.slug}_edit"),
        path(f"{base}<str:name>/delete/", ObjectDeleteView.as_view(page=page), name=f"{page.slug}_delete"),
    ]

