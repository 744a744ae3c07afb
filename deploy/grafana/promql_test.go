package grafana

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// metricNames returns the metric names an expression selects, in order of
// first use. It is a tokenizer, not a parser: strings, label matchers
// ({…}), ranges and durations ([…], offset 5m), numbers, template
// variables ($x, ${x}), comments, keywords and operators are skipped, as
// are an identifier followed by "(" (a function), an aggregation and the
// label lists of by, without, on, ignoring, group_left and group_right.
// What is left is a metric name. A selector by {__name__=…} alone is not
// found. It returns an error on an unbalanced bracket or an unterminated
// string, so that a malformed query fails the test instead of passing
// with fewer names.
func metricNames(expr string) ([]string, error) {
	var names []string
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '{' || c == '[':
			j, err := skipBracket(s, i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '}' || c == ']' || c == ')':
			if c != ')' {
				return nil, fmt.Errorf("%q: unbalanced %c at %d", expr, c, i)
			}
			i++
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				for i < len(s) && s[i] != '}' {
					i++
				}
				i++
			} else {
				for i < len(s) && isIdent(s[i], false) {
					i++
				}
			}
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			// A number or a duration (5m, 1h30m, 0x1f, 1e-6).
			for i < len(s) && (isIdent(s[i], false) || s[i] == '.' || (s[i] == '-' || s[i] == '+') && (s[i-1] == 'e' || s[i-1] == 'E')) {
				i++
			}
		case isIdent(c, true):
			j := i
			for j < len(s) && isIdent(s[j], false) {
				j++
			}
			word := s[i:j]
			k := j
			for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n') {
				k++
			}
			switch {
			case labelListKeywords[word]:
				// by (a, b): the list is labels, not metrics; group_left
				// may come without one.
				if k < len(s) && s[k] == '(' {
					end := strings.IndexByte(s[k:], ')')
					if end < 0 {
						return nil, fmt.Errorf("%q: %s's label list not closed", expr, word)
					}
					j = k + end + 1
				}
			case k < len(s) && s[k] == '(', aggregations[word]:
				// A function or an aggregation (whose by or without may
				// come before its arguments).
			case keywords[strings.ToLower(word)]:
			default:
				if !slices.Contains(names, word) {
					names = append(names, word)
				}
			}
			i = j
		default:
			i++ // operators, commas, spaces
		}
	}
	return names, nil
}

var aggregations = map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true}

var labelListKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// keywords are the words of PromQL that are not metric names: binary
// operators, modifiers and number literals.
var keywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true}

func isIdent(c byte, first bool) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

// skipString returns the index after the string literal starting at i.
func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("%q: string at %d not closed", s, i)
}

// skipBracket returns the index after the {…} or […] starting at i,
// strings inside included.
func skipBracket(s string, i int) (int, error) {
	closer := byte('}')
	if s[i] == '[' {
		closer = ']'
	}
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '"', '\'', '`':
			k, err := skipString(s, j)
			if err != nil {
				return 0, err
			}
			j = k - 1
		case closer:
			return j + 1, nil
		case '{', '[', '}', ']':
			return 0, fmt.Errorf("%q: %c inside the bracket at %d", s, s[j], i)
		}
	}
	return 0, fmt.Errorf("%q: bracket at %d not closed", s, i)
}

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`rr_build_info`, []string{"rr_build_info"}},
		{`histogram_quantile(0.99, sum by (function, le) (rate(rr_invocation_duration_seconds_bucket{instance=~"$instance", result!="ok"}[$__rate_interval])))`,
			[]string{"rr_invocation_duration_seconds_bucket"}},
		{`sum without (instance) (a_total) / on (job) group_left (version) b_info`, []string{"a_total", "b_info"}},
		{`sum(rate(a_total[5m] offset 1h)) by (path) > bool 1e-6`, []string{"a_total"}},
		{`a and b or c unless d`, []string{"a", "b", "c", "d"}},
		{`x{le="0.5", name=~"a(b)|by (c)", q='it\'s'} * on() group_left y`, []string{"x", "y"}},
		{`label_replace(up_total, "dst", "$1", "src", "(.*)")`, []string{"up_total"}},
		{`count_values("version", b) + topk(5, c) - -d @ start()`, []string{"b", "c", "d"}},
		{`sum by (function) (rr_function_instances{state="busy"}) / sum by (function) (rr_function_pool_size)`,
			[]string{"rr_function_instances", "rr_function_pool_size"}},
		{"a # a comment with b_total\n+ ${var} * c:recorded:rate5m", []string{"a", "c:recorded:rate5m"}},
		{`rate(x[1h30m:1m]) + 0x1F + .5 + Inf + NaN`, []string{"x"}},
		{`max by (instance, version) (rr_build_info{instance=~"${instance:regex}"})`, []string{"rr_build_info"}},
	} {
		got, err := metricNames(c.expr)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q) = %q, %v; want %q", c.expr, got, err, c.want)
		}
	}
	for _, bad := range []string{`rate(x[5m)`, `x{a="b}`, `x{a="b"`, `sum by (a x`, `x]`} {
		if got, err := metricNames(bad); err == nil {
			t.Errorf("metricNames(%q) = %q, want an error", bad, got)
		}
	}
}
