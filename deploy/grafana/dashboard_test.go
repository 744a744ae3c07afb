package grafana

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/livenodes"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
)

func TestMain(m *testing.M) {
	code := m.Run()
	wasmbuild.Cleanup()
	os.Exit(code)
}

// dashboard is the part of Grafana's dashboard model roadrunner.json uses.
// It is decoded with unknown fields refused: a misspelt field (an "exp"
// for "expr") fails the test instead of hiding a query from it.
type dashboard struct {
	Title         string          `json:"title"`
	UID           string          `json:"uid"`
	Description   string          `json:"description"`
	Tags          []string        `json:"tags"`
	Editable      bool            `json:"editable"`
	GraphTooltip  int             `json:"graphTooltip"`
	SchemaVersion int             `json:"schemaVersion"`
	Version       int             `json:"version"`
	Time          json.RawMessage `json:"time"`
	Refresh       string          `json:"refresh"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Annotations json.RawMessage `json:"annotations"`
	Panels      []panel         `json:"panels"`
}

type variable struct {
	Name       string          `json:"name"`
	Label      string          `json:"label"`
	Type       string          `json:"type"`
	Datasource *datasource     `json:"datasource"`
	Query      json.RawMessage `json:"query"` // a string, or {query, refId}
	Definition string          `json:"definition"`
	Refresh    int             `json:"refresh"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	Current    json.RawMessage `json:"current"`
	Hide       int             `json:"hide"`
	Sort       int             `json:"sort"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int             `json:"id"`
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Datasource  *datasource     `json:"datasource"`
	GridPos     gridPos         `json:"gridPos"`
	FieldConfig json.RawMessage `json:"fieldConfig"`
	Options     json.RawMessage `json:"options"`
	Targets     []target        `json:"targets"`
	Collapsed   bool            `json:"collapsed"`
	Panels      []panel         `json:"panels"` // a collapsed row's
}

type gridPos struct{ H, W, X, Y int }

type target struct {
	RefID        string      `json:"refId"`
	Datasource   *datasource `json:"datasource"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat"`
	Instant      bool        `json:"instant"`
	Range        bool        `json:"range"`
	Format       string      `json:"format"`
}

// prometheusDS is how every query names its data source: the dashboard's
// variable, so that the importer picks the Prometheus that scrapes nodes.
var prometheusDS = datasource{Type: "prometheus", UID: "${datasource}"}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	b, err := os.ReadFile("roadrunner.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("roadrunner.json: %v", err)
	}
	if dec.More() {
		t.Fatal("roadrunner.json: more than one JSON value")
	}
	return &d
}

// queries returns every PromQL expression of d, each with where it is.
func queries(t *testing.T, d *dashboard) map[string]string {
	t.Helper()
	q := map[string]string{}
	var ds bool
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			var s string
			if err := json.Unmarshal(v.Query, &s); err != nil || s != "prometheus" || v.Name != "datasource" {
				t.Errorf("variable %s: a datasource variable named datasource of type prometheus, got %s %s", v.Name, v.Name, v.Query)
			}
			ds = true
		case "query":
			var query struct{ Query, RefID string }
			if err := json.Unmarshal(v.Query, &query); err != nil {
				t.Fatalf("variable %s: query: %v", v.Name, err)
			}
			// Grafana's label_values(metric, label): the metric is a
			// selector.
			m := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`).FindStringSubmatch(query.Query)
			if m == nil || v.Definition != query.Query || v.Datasource == nil || *v.Datasource != prometheusDS {
				t.Fatalf("variable %s: want label_values(selector, label) on ${datasource}, got %q (definition %q)", v.Name, query.Query, v.Definition)
			}
			q["variable "+v.Name] = m[1]
		default:
			t.Errorf("variable %s: type %s", v.Name, v.Type)
		}
	}
	if !ds {
		t.Error("no datasource variable: the importer could not pick a Prometheus")
	}
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q: gridPos %+v outside Grafana's 24 columns", p.Title, p.GridPos)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Datasource == nil || *p.Datasource != prometheusDS || len(p.Targets) == 0 || p.Description == "" {
				t.Errorf("panel %q: want the ${datasource} Prometheus, a description and a query", p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				where := "panel " + p.Title + " " + tg.RefID
				if refs[tg.RefID] || tg.RefID == "" || strings.TrimSpace(tg.Expr) == "" || tg.Datasource == nil || *tg.Datasource != prometheusDS {
					t.Errorf("%s: want a unique refId, an expr and the ${datasource} Prometheus", where)
				}
				refs[tg.RefID] = true
				q[where] = tg.Expr
			}
		}
	}
	walk(d.Panels)
	return q
}

// TestDashboard checks that every query of roadrunner.json names only
// metrics real nodes export, after traffic on the memory, unix and tcp
// paths: a renamed metric or a misspelt query fails it.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Fatalf("dashboard: uid %q, title %q, schemaVersion %d", d.UID, d.Title, d.SchemaVersion)
	}
	qs := queries(t, d)

	exported := map[string]bool{}
	ns := livenodes.Start(t)
	for _, n := range ns.All() {
		for name := range exportedNames(livenodes.Scrape(t, n)) {
			exported[name] = true
		}
	}
	used := map[string]bool{}
	for where, expr := range qs {
		names, err := metricNames(expr)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, name := range names {
			used[name] = true
			if !exported[name] {
				t.Errorf("%s: %s is not exported by the nodes (%q)", where, name, expr)
			}
		}
	}
	// The panels the dashboard promises (deploy/grafana/doc.go, docs/METRICS.md).
	for _, name := range []string{"rr_invocations_total", "rr_invocation_duration_seconds_bucket", "rr_transfer_duration_seconds_bucket",
		"rr_function_invocations_in_flight", "rr_function_instances", "rr_function_pool_size", "rr_transfer_bytes_total",
		"rr_fallbacks_total", "rr_dial_failures_total", "rr_frames_refused_total", "rr_auth_failures_total", "rr_cluster_peers", "rr_build_info"} {
		if !used[name] {
			t.Errorf("no panel queries %s", name)
		}
	}
	if t.Failed() {
		var list []string
		for name := range exported {
			list = append(list, name)
		}
		slices.Sort(list)
		t.Logf("exported: %s", strings.Join(list, " "))
	}
}

// exportedNames returns the names a scrape in the text format exports:
// every family of a # TYPE line, a histogram's or summary's with its
// _bucket, _sum and _count series, and every sample's name.
func exportedNames(text string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(rest)
			if len(f) != 2 {
				continue
			}
			names[f[0]] = true
			switch f[1] {
			case "histogram":
				names[f[0]+"_bucket"], names[f[0]+"_sum"], names[f[0]+"_count"] = true, true, true
			case "summary":
				names[f[0]+"_sum"], names[f[0]+"_count"] = true, true
			}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}
