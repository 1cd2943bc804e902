"""Step keys that tests and the bench ask for, named once: those a modality's worklist screen shows.

The patient keys are the runtime's own, ``vetmwl.model.PATIENT_KEYS``.
"""

from __future__ import annotations

STEP_KEYS = (
    "Modality",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
    "ScheduledProcedureStepID",
    "ScheduledProcedureStepDescription",
)
