package fpmconf

import "strings"

// secretWords are name fragments that mark a value as confidential.
var secretWords = []string{
	"pass", "pwd", "secret", "token", "apikey", "api_key", "api-key", "auth",
	"credential", "private", "salt", "signature", "cookie_key", "dsn",
}

// secretWholeWords match only as a whole word ("key", not "keyboard" or
// "monkey"), because "key" alone is common in harmless names.
var secretWholeWords = []string{"key", "pw", "pin", "otp"}

// IsSecretKey reports whether a setting's name looks like it holds a
// password, token, key or other secret, e.g. env[DB_PASSWORD],
// php_admin_value[mail.smtp_pass] or env[APP_KEY]; reports mask such
// values. The key inside [] is what is judged for array settings.
func IsSecretKey(name string) bool {
	n := strings.ToLower(name)
	if _, k, ok := splitArrayKey(n); ok {
		n = k
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return !harmless(n)
		}
	}
	words := strings.FieldsFunc(n, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	for _, w := range words {
		for _, s := range secretWholeWords {
			if w == s {
				return true
			}
		}
	}
	return false
}

// harmless lists well-known names that contain a secret-looking fragment
// but hold no secret.
func harmless(n string) bool {
	return strings.Contains(n, "passthru") || strings.Contains(n, "passthrough") || strings.Contains(n, "author")
}
