package snapshot

import "time"

// Repair is a repair fpmdoctor fix applied and proved on the very request
// that had failed: the logged request, sent again through nginx after the
// change, got its answer. fix records it in its state directory; diagnose
// reads it back (Snapshot.Repairs) only while every file the repair wrote
// still holds what it wrote, so the proof is about the config on disk.
// It lets the checks tell lines logged before the repair as history where
// the log alone cannot (nginx does not log how big a refused header was).
type Repair struct {
	Cause string `json:"cause"`
	Pool  string `json:"pool,omitempty"` // pool ID, as findings carry it
	Site  string `json:"site,omitempty"` // site key
	// At is when the change took effect (files written, services
	// reloaded): what was logged after it is not covered.
	At time.Time `json:"at"`
	// Proof says what was shown, for the report: the request replayed,
	// its answer, and what the change was.
	Proof string       `json:"proof"`
	Files []RepairFile `json:"files"`
}

// RepairFile is one file a repair wrote and the SHA-256 of what it wrote.
type RepairFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}
