package harness

import (
	"context"
	"strings"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/remote"
)

// slabLinksScript lists /sys/kernel/slab as "name<TAB>link target" lines
// (target empty for a real directory, followed by a tab and its
// reclaim_account), for checks.ParseSlabLinks. Merged
// caches only change when a module creates or destroys one, so the list
// is read once, after the baseline. readlink runs once per symlink. $1 is
// the slab folder (slabFolder), a target path.
const slabLinksScript = `cd "$1" 2>/dev/null || exit 0
for f in *; do
	if [ -h "$f" ]; then printf '%s\t%s\n' "$f" "$(readlink "$f")"; elif [ -d "$f" ]; then r=; read -r r < "$f/reclaim_account" 2>/dev/null; printf '%s\t\t%s\n' "$f" "$r"; fi
done`

// slabAliases reads which slab caches are merged on the target and which
// the kernel accounts as reclaimable. It never fails the soak: without the
// list, findings only lack the merged names, and SUnreclaim's explanation
// may list a reclaimable cache.
func (s *soak) slabAliases(ctx context.Context) (aliases map[string][]string, reclaimAccounted []string) {
	rctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	res, err := s.tgt.Run(rctx, []string{"sh", "-c", slabLinksScript, "sh", slabFolder}, remote.RunOptions{MaxOutputBytes: 1 << 20, PathArgs: []int{4}})
	if err != nil || res.ExitStatus != 0 {
		s.logf("list merged slab caches: %v %s", err, strings.TrimSpace(string(res.Stderr)))
		return nil, nil
	}
	entries, err := checks.ParseSlabLinks(res.Stdout)
	if err != nil {
		s.logf("list merged slab caches: %v", err)
	}
	return checks.SlabAliases(entries), checks.ReclaimAccounted(entries)
}
