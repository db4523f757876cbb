package report

import "strings"

// Reports never print secrets. What marks a value as secret is its name
// (env[DB_PASSWORD], fastcgi_param APP_KEY, php_admin_value
// [mail.smtp_pass]): values themselves give no reliable sign.

// secretFragments mark a name as secret wherever they appear in it.
var secretFragments = [...]string{
	"pass", "pwd", "secret", "token", "apikey", "api_key", "api-key", "auth",
	"credential", "private", "salt", "signature", "cookie_key", "dsn",
}

// secretWords mark a name only as whole words ("key", not "keyboard" or
// "monkey"): alone they are common in harmless names.
var secretWords = [...]string{"key", "pw", "pin", "otp"}

// IsSecretName reports whether a setting named name probably holds a
// secret. For array settings (env[X], php_value[x]) the key is judged.
func IsSecretName(name string) bool {
	n := strings.ToLower(name)
	if i := strings.IndexByte(n, '['); i >= 0 && strings.HasSuffix(n, "]") {
		n = n[i+1 : len(n)-1]
	}
	for _, w := range secretFragments {
		if strings.Contains(n, w) {
			return !harmless(n)
		}
	}
	for _, w := range strings.FieldsFunc(n, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
		for _, s := range secretWords {
			if w == s {
				return true
			}
		}
	}
	return false
}

// harmless: well-known names that contain a secret-looking fragment but
// hold no secret.
func harmless(n string) bool {
	return strings.Contains(n, "passthru") || strings.Contains(n, "passthrough") || strings.Contains(n, "author")
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
