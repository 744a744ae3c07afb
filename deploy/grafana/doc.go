// Package grafana holds the Grafana dashboard of Roadrunner nodes,
// roadrunner.json (Grafana's dashboard model, schema version 39), and the
// test that keeps it true: every query of every panel, and of the dashboard's
// variables, names only metrics that a real node exports.
//
// Import the file in Grafana (Dashboards → New → Import) and pick the
// Prometheus data source that scrapes the nodes; the Node variable selects
// nodes by their instance label. docs/METRICS.md describes each metric.
//
// The package has no Go code: the test decodes the JSON strictly, extracts
// the metric names of each PromQL expression, starts real nodes with
// traffic on the memory, unix and tcp paths (internal/livenodes), scrapes
// their /metrics and fails on a name none of them exports.
package grafana
