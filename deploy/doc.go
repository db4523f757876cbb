// Package deploy holds what installs and runs fpmdoctor as a service, as
// files rather than code: the systemd unit (systemd/), the nfpm package
// definition (package/), Prometheus alert rules with their unit tests and a
// scrape config (prometheus/), and a Grafana dashboard (grafana/). Its
// tests prove them: promtool on the rules, every metric name against what
// the watcher exports, the built .deb and .rpm file lists, a real
// Prometheus firing an alert, and a booted systemd host running the unit.
package deploy
