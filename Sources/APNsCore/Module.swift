// APNsCore
