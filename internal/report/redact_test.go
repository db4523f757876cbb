package report

import "testing"

func TestRedact(t *testing.T) {
	for name, secret := range map[string]bool{
		"env[DB_PASSWORD]":                true,
		"php_admin_value[mail.smtp_pass]": true,
		"APP_KEY":                         true,
		"env[STRIPE_SECRET]":              true,
		"GITHUB_TOKEN":                    true,
		"listen":                          false,
		"pm.max_children":                 false,
		"SCRIPT_FILENAME":                 false,
		"php_admin_value[memory_limit]":   false,
	} {
		got := Redact(name, "v4lue")
		if (got == Masked) != secret {
			t.Errorf("Redact(%q) = %q, secret=%v", name, got, secret)
		}
	}
}
