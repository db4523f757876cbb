package report

import "testing"

func TestRedact(t *testing.T) {
	secret := []string{"env[DB_PASSWORD]", "php_admin_value[mail.smtp_pass]", "env[APP_KEY]", "APP_KEY",
		"env[STRIPE_SECRET]", "env[GITHUB_TOKEN]", "GITHUB_TOKEN", "env[AWS_SECRET_ACCESS_KEY]", "env[REDIS_PWD]",
		"php_value[session.save_path_auth]", "env[DATABASE_DSN]"}
	plain := []string{"listen", "pm.max_children", "SCRIPT_FILENAME", "php_admin_value[memory_limit]", "env[PATH]",
		"env[HOSTNAME]", "env[KEYBOARD]", "php_admin_value[error_log]", "env[MONKEY_COUNT]", "php_value[session.save_path]",
		"php_admin_value[disable_functions_passthru]", "env[AUTHOR]"}
	for _, n := range secret {
		if got := Redact(n, "v4lue"); got != Masked {
			t.Errorf("Redact(%q) = %q, want masked", n, got)
		}
	}
	for _, n := range plain {
		if got := Redact(n, "v4lue"); got != "v4lue" {
			t.Errorf("Redact(%q) = %q, want the value", n, got)
		}
	}
	if Redact("env[DB_PASSWORD]", "") != "" {
		t.Error("an empty value needs no mask")
	}
}
