package bench

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// CheckCSV checks a long CSV written by WriteCSV: it has every column of
// LongColumns, a row for every one of paths at every one of sizes (nil:
// whatever sizes it has), and every row is either unavailable with a
// reason, or ran with every delivery verified and a median latency. With
// requireAvailable, a row marked unavailable is a problem too: CI, which
// runs as root on a kernel with every accelerator, must measure every path
// rather than pass with one missing. It is what CI's smoke run asserts; no
// number is compared with another.
func CheckCSV(r io.Reader, paths []string, sizes []int64, requireAvailable bool) error {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return fmt.Errorf("read csv: %w", err)
	}
	if len(recs) == 0 {
		return errors.New("csv: empty")
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	for _, c := range LongColumns {
		if _, ok := col[c]; !ok {
			return fmt.Errorf("csv: no column %q", c)
		}
	}
	seen := map[string]bool{}
	var problems []string
	csvSizes := []int64{}
	for i, rec := range recs[1:] {
		get := func(c string) string { return rec[col[c]] }
		size, err := strconv.ParseInt(get("size_bytes"), 10, 64)
		if err != nil {
			problems = append(problems, fmt.Sprintf("row %d: size_bytes %q", i+1, get("size_bytes")))
			continue
		}
		if !slices.Contains(csvSizes, size) {
			csvSizes = append(csvSizes, size)
		}
		path := get("path")
		key := fmt.Sprintf("%d %s", size, path)
		if seen[key] {
			problems = append(problems, "two rows for "+key)
		}
		seen[key] = true
		switch get("available") {
		case "false":
			switch {
			case get("reason") == "":
				problems = append(problems, key+": unavailable without a reason")
			case requireAvailable:
				problems = append(problems, key+": unavailable: "+get("reason"))
			}
		case "true":
			verified, _ := strconv.Atoi(get("verified"))
			samples, _ := strconv.Atoi(get("samples"))
			switch {
			case get("error") != "":
				problems = append(problems, key+": failed: "+get("error"))
			case verified < 1 || verified < samples:
				problems = append(problems, fmt.Sprintf("%s: %d deliveries verified for %d timed", key, verified, samples))
			case get("latency_median_s") == "":
				problems = append(problems, key+": no median latency")
			}
		default:
			problems = append(problems, fmt.Sprintf("%s: available %q", key, get("available")))
		}
	}
	if sizes == nil {
		sizes = csvSizes
	}
	for _, s := range sizes {
		for _, p := range paths {
			if !seen[fmt.Sprintf("%d %s", s, p)] {
				problems = append(problems, fmt.Sprintf("no row for %s at %d bytes", p, s))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New("csv: " + strings.Join(problems, "; "))
	}
	return nil
}
