"""Content negotiation that never refuses: vTM clients send Accept headers for raw bodies
(application/octet-stream, application/x-tar) that the views answer themselves."""

from rest_framework.negotiation import DefaultContentNegotiation


class LenientContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Exception:  # NotAcceptable: fall back to JSON, the API's own format
            return renderers[0], renderers[0].media_type
