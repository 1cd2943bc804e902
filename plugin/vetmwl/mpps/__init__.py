"""The MPPS SCP: modalities report through it that a scheduled step is in progress, completed or
discontinued (Modality Performed Procedure Step SOP Class, PS3.4 Annex F.7).

:mod:`.protocol` holds the standard's rules and writes the state store; it knows no networking.
:mod:`.server` is the thin pynetdicom wiring that listens on its own port beside Orthanc.
"""
