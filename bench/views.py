"""The two comparison endpoints: a bare Django view, and the same body behind DRF + HasAPIKey."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey

BODY = {"ok": True, "id": "bench"}


@require_GET
def baseline(request):
    """Row 1: what Django itself costs for a small JSON answer (full middleware stack, no auth)."""
    return JsonResponse(BODY)


class DrfKeyView(APIView):
    """Row 4: the peer. `Authorization: Api-Key <prefix>.<secret>`; one lookup by prefix, then a hash."""

    permission_classes = [HasAPIKey]

    def get(self, request):
        return Response(BODY)
