"""Imports every table so that `Base.metadata` is complete (migrations, tests)."""

from zhihui.core import audit, auth, events, orgs  # noqa: F401
from zhihui.core.store import Base
from zhihui.dispatch import models as dispatch_models  # noqa: F401
from zhihui.geo import places  # noqa: F401
from zhihui.incidents import models as incident_models  # noqa: F401
from zhihui.instructions import models as instruction_models  # noqa: F401
from zhihui.intake import models as intake_models  # noqa: F401
from zhihui.intel import models as intel_models  # noqa: F401

metadata = Base.metadata
