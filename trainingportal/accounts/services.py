from django.db import transaction

from trainingportal.core.audit import log_action
from trainingportal.core.phi import check_phi_fields

from .models import Credential

_LABELS = {"body": "Issuing body", "identifier": "Certificate or letter id", "justification": "Justification"}


@transaction.atomic
def credential_add(*, actor, data: dict) -> Credential:
    """Record a credential the user holds. It is shown to directors and, in dossiers, to SCMR reviewers."""
    check_phi_fields({name: data.get(name, "") for name in _LABELS}, _LABELS)
    credential = Credential(
        user=actor, **{k: data.get(k, "") for k in ("level", "body", "identifier", "justification")}
    )
    credential.issued_on = data["issued_on"]
    credential.full_clean(exclude=["document"])
    credential.save()
    log_action(
        actor=actor,
        action="credential.add",
        obj=credential,
        after={"level": credential.level, "body": credential.body, "identifier": credential.identifier},
    )
    return credential
