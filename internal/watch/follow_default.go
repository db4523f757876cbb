package watch

import "github.com/fpmdoctor/fpmdoctor/internal/follow"

// defaultFollow follows path from its current end: what was written
// before is the diagnosis' window, not news. Rotation by rename and by
// copytruncate is the follower's job.
func defaultFollow(path string) LineFollower {
	return follow.New(path, follow.Options{MaxLine: maxLine})
}
