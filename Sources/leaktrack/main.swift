import LeakTrackCLI

LeakTrack.runMain()
