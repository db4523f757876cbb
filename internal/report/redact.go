package report

import "strings"

// secretWords are name fragments that mark a value as secret. Matching is
// on the name (env[DB_PASSWORD], fastcgi_param APP_KEY, php_admin_value
// [mail.smtp_pass]) because values themselves give no reliable sign.
var secretWords = []string{"pass", "pwd", "secret", "token", "key", "auth", "credential", "salt", "private", "cookie", "session_id", "dsn"}

// IsSecretName reports whether a setting named name probably holds a secret.
func IsSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Masked is what a secret value is printed as.
const Masked = "********"

// Redact returns value, or Masked when name looks like a secret's name.
func Redact(name, value string) string {
	if value != "" && IsSecretName(name) {
		return Masked
	}
	return value
}
