-- Reference worklist table for Microsoft SQL Server. One row per Scheduled Procedure Step.
-- NVARCHAR keeps names in any language. The plugin relies on a case-insensitive collation (the
-- default) for case-insensitive Patient's Name matching, which keeps LIKE 'SMITH%' on the index.
-- Run it once on an empty database (it does not check for an existing table).
-- Columns are named after DICOM keywords (sql/README.md, plugin/vetmwl/model.py). Sequences with
-- a column of their own hold DICOM JSON (PS3.18 F.2: a list of items); AdditionalAttributes holds
-- one DICOM JSON dataset of every other attribute of the item (the step's inside its
-- ScheduledProcedureStepSequence item).
CREATE TABLE dbo.worklist (
    ScheduledProcedureStepID             NVARCHAR(16)  NOT NULL UNIQUE,
    ScheduledProcedureStepStartDateTime  DATETIME2(0)  NOT NULL,
    Modality                             NVARCHAR(16)  NOT NULL,
    ScheduledStationAETitle              NVARCHAR(16),
    ScheduledStationName                 NVARCHAR(16),
    ScheduledProcedureStepLocation       NVARCHAR(16),
    ScheduledProcedureStepDescription    NVARCHAR(64),
    ScheduledPerformingPhysicianName     NVARCHAR(324),
    ScheduledProcedureStepStatus         NVARCHAR(16),
    PreMedication                        NVARCHAR(64),
    RequestedContrastAgent               NVARCHAR(64),
    CommentsOnTheScheduledProcedureStep  NVARCHAR(MAX),
    ScheduledProtocolCodeSequence        NVARCHAR(MAX),
    RequestedProcedureID                 NVARCHAR(16),
    RequestedProcedureDescription        NVARCHAR(64),
    RequestedProcedurePriority           NVARCHAR(16),
    RequestedProcedureCodeSequence       NVARCHAR(MAX),
    AccessionNumber                      NVARCHAR(16),
    StudyInstanceUID                     VARCHAR(64),
    StudyDescription                     NVARCHAR(64),
    ReferencedStudySequence              NVARCHAR(MAX),
    ReferringPhysicianName               NVARCHAR(324),
    RequestingPhysician                  NVARCHAR(324),
    AdmissionID                          NVARCHAR(64),
    CurrentPatientLocation               NVARCHAR(64),
    ReferencedPatientSequence            NVARCHAR(MAX),
    PatientName                          NVARCHAR(324) NOT NULL,
    PatientID                            NVARCHAR(64)  NOT NULL,
    IssuerOfPatientID                    NVARCHAR(64),
    PatientBirthDate                     DATE,
    PatientSex                           NVARCHAR(16),
    PatientSize                          DECIMAL(8,3),
    PatientWeight                        DECIMAL(8,3),
    PatientSpeciesDescription            NVARCHAR(64),
    PatientSpeciesCodeValue              NVARCHAR(16),
    PatientSpeciesCodingSchemeDesignator NVARCHAR(16),
    PatientSpeciesCodeMeaning            NVARCHAR(64),
    PatientBreedDescription              NVARCHAR(64),
    PatientBreedCodeValue                NVARCHAR(16),
    PatientBreedCodingSchemeDesignator   NVARCHAR(16),
    PatientBreedCodeMeaning              NVARCHAR(64),
    BreedRegistrationNumber              NVARCHAR(64),
    BreedRegistryCodeValue               NVARCHAR(16),
    BreedRegistryCodingSchemeDesignator  NVARCHAR(16),
    BreedRegistryCodeMeaning             NVARCHAR(64),
    PatientSexNeutered                   NVARCHAR(16),
    ResponsiblePerson                    NVARCHAR(324),
    ResponsiblePersonRole                NVARCHAR(16),
    ResponsibleOrganization              NVARCHAR(64),
    PatientComments                      NVARCHAR(MAX),
    MedicalAlerts                        NVARCHAR(1024),
    Allergies                            NVARCHAR(1024),
    SpecialNeeds                         NVARCHAR(64),
    PatientState                         NVARCHAR(64),
    AdditionalAttributes                 NVARCHAR(MAX)
);
CREATE INDEX worklist_start ON dbo.worklist (ScheduledProcedureStepStartDateTime);
CREATE INDEX worklist_modality_start ON dbo.worklist (Modality, ScheduledProcedureStepStartDateTime);
CREATE INDEX worklist_station_start ON dbo.worklist (ScheduledStationAETitle, ScheduledProcedureStepStartDateTime);
CREATE INDEX worklist_patient_id ON dbo.worklist (PatientID);
CREATE INDEX worklist_accession ON dbo.worklist (AccessionNumber);
CREATE INDEX worklist_patient_name ON dbo.worklist (PatientName);
