@_exported import IntakeOps
