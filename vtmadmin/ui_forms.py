"""The Admin UI's form renderer: Django's widgets, with each field wrapped in our templates/forms/field.html."""

from django.forms.renderers import TemplatesSetting


class AdminUIFormRenderer(TemplatesSetting):
    field_template_name = "forms/field.html"
