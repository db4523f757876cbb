package nginxconf_test

import (
	"context"
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
)

// Load a host's configuration from an offline copy and list where each PHP
// location sends its requests.
func Example() {
	c, err := nginxconf.Load(context.Background(), "/etc/nginx/nginx.conf", nginxconf.Options{Root: "testdata/debian-php"})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := c.Model()
	fmt.Println("user:", m.User)
	for _, p := range m.FastCGIPasses {
		s := p.Settings()
		src := c.File(p.Directive.File).Src[p.Directive.Start:p.Directive.End]
		fmt.Printf("%s: %s -> %s %s (read timeout %v)\n", p.Directive.Pos(), src, p.Target.Kind, p.Target.Address(), s.ReadTimeout)
	}
	// Output:
	// user: www-data
	// /etc/nginx/sites-enabled/default:60: fastcgi_pass unix:/run/php/php8.2-fpm.sock; -> unix unix:/run/php/php8.2-fpm.sock (read timeout 1m0s)
}
