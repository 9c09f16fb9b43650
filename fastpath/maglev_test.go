package fastpath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"

	"vec/internal/limits"
)

// maglevService is a Maglev service on VIP tcp/80 with one server per
// weight, named srv-<i>, IDs first, first+1, ….
func maglevService(id ServiceID, first ServerID, weights []int) ServiceConfig {
	sc := ServiceConfig{ID: id, VIP: vip, Proto: ProtoTCP, Port: 80, Scheduler: SchedulerMaglev, WeightBound: limits.MaxWeightBound}
	for i, w := range weights {
		sid := first + ServerID(i)
		sc.Servers = append(sc.Servers, ServerConfig{ID: sid, Name: fmt.Sprintf("srv-%d", i),
			IP: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), MAC: serverMAC(sid), Weight: w})
	}
	return sc
}

func compileOne(t testing.TB, sc ServiceConfig, previous *Snapshot) *Snapshot {
	t.Helper()
	snap, err := NewSnapshot(&Config{GatewayMAC: gwMAC, GatewayIP: gwIP, Services: []ServiceConfig{sc}, Previous: previous})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// owners returns the name of the server owning each slot of the service's
// current table.
func owners(t testing.TB, snap *Snapshot, sc *ServiceConfig) []string {
	t.Helper()
	svc := snap.serviceByID(sc.ID)
	if svc == nil || svc.maglev == nil {
		t.Fatal("no maglev service")
	}
	out := make([]string, MaglevTableSize)
	for slot := range out {
		out[slot] = sc.Servers[svc.maglev.pick(uint32(slot))].Name
	}
	return out
}

func shuffled(rng *rand.Rand, sc ServiceConfig) ServiceConfig {
	sc.Servers = append([]ServerConfig(nil), sc.Servers...)
	rng.Shuffle(len(sc.Servers), func(i, j int) { sc.Servers[i], sc.Servers[j] = sc.Servers[j], sc.Servers[i] })
	return sc
}

// Two gateways with the same servers and weights build the same table,
// whatever order the servers are listed in and whatever IDs they carry.
func TestMaglevTablesAgreeAcrossBuilds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 40 {
		n := 1 + rng.IntN(50)
		weights := make([]int, n)
		for i := range weights {
			weights[i] = rng.IntN(21) // 0 included: such a server takes no slot
		}
		weights[rng.IntN(n)] = 1 + rng.IntN(20)
		a := maglevService(0, 1, weights)
		b := shuffled(rng, maglevService(0, 100, weights)) // other IDs, other order
		oa, ob := owners(t, compileOne(t, a, nil), &a), owners(t, compileOne(t, b, nil), &b)
		for slot := range oa {
			if oa[slot] != ob[slot] {
				t.Fatalf("trial %d (%d servers, weights %v): slot %d is %s in one build, %s in the other", trial, n, weights, slot, oa[slot], ob[slot])
			}
		}
		for slot, name := range oa {
			var i int
			if _, err := fmt.Sscanf(name, "srv-%d", &i); err != nil || weights[i] == 0 {
				t.Fatalf("trial %d: slot %d owned by %s of weight 0", trial, slot, name)
			}
		}
	}
}

// Two independent cores (other table seeds, other server order and IDs)
// send every new flow of a Maglev service to the same server.
func TestMaglevCoresPickTheSameServer(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	weights := []int{5, 1, 3, 3, 0, 7, 2, 2, 9, 4}
	a := maglevService(0, 1, weights)
	b := shuffled(rng, maglevService(0, 50, weights))
	names := map[ServerID]string{}
	for _, sc := range []ServiceConfig{a, b} {
		for _, s := range sc.Servers {
			names[s.ID] = s.Name
		}
	}
	ca, cb := coreOn(t, compileOne(t, a, nil), 1), coreOn(t, compileOne(t, b, nil), 99)
	verdicts := make([]Verdict, 1)
	for range 5000 {
		f := tcpFlow(uint16(1024 + rng.IntN(60000)))
		f.SrcIP = netip.AddrFrom4([4]byte{198, 51, byte(rng.IntN(256)), byte(rng.IntN(256))})
		var got [2]string
		for i, c := range []*Core{ca, cb} {
			p := synTo(f)
			c.ProcessBurst([][]byte{p}, verdicts)
			if verdicts[0] != VerdictForward {
				t.Fatalf("SYN: %v", verdicts[0])
			}
			got[i] = names[dstServer(t, p)]
		}
		if got[0] != got[1] {
			t.Fatalf("flow %v:%d went to %s on one core, %s on the other", f.SrcIP, f.SrcPort, got[0], got[1])
		}
	}
}

// Removing one of N equally weighted servers moves only about 1/N of the
// slots: the removed server's, plus the few that Maglev's fill order
// reshuffles among the others.
func TestMaglevDisruptionOnRemoval(t *testing.T) {
	for _, n := range []int{5, 10, 50} {
		weights := make([]int, n)
		for i := range weights {
			weights[i] = 1
		}
		full := maglevService(0, 1, weights)
		ownersFull := owners(t, compileOne(t, full, nil), &full)
		var sum, most float64
		for removed := range n {
			less := full
			less.Servers = append(append([]ServerConfig(nil), full.Servers[:removed]...), full.Servers[removed+1:]...)
			ownersLess := owners(t, compileOne(t, less, nil), &less)
			changed := 0
			for slot := range ownersFull {
				if ownersFull[slot] != ownersLess[slot] {
					changed++
				}
			}
			frac := float64(changed) / MaglevTableSize
			sum, most = sum+frac, max(most, frac)
			// The removed server's own slots (1/N, up to the last
			// partial round of the fill) must move; Maglev moves some
			// others too, as the survivors' permutations claim the
			// freed slots in a different order. The tolerance is half
			// of 1/N on top: well above that small extra, well below
			// a table that reshuffled another whole server's share.
			ideal := 1 / float64(n)
			if frac < ideal*0.98 || frac > ideal*1.5 {
				t.Errorf("%d servers, srv-%d removed: %.4f of the slots changed owner, want about %.4f", n, removed, frac, ideal)
			}
		}
		t.Logf("%d servers: removing one changes %.4f of the slots on average, %.4f at most (1/N = %.4f)", n, sum/float64(n), most, 1/float64(n))
	}
}

// Each server's share of the slots is its share of the weights.
func TestMaglevSharesFollowWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 20 {
		n := 2 + rng.IntN(30)
		weights := make([]int, n)
		total := 0
		for i := range weights {
			weights[i] = 1 + rng.IntN(20)
			total += weights[i]
		}
		sc := maglevService(0, 1, weights)
		count := map[string]int{}
		for _, name := range owners(t, compileOne(t, sc, nil), &sc) {
			count[name]++
		}
		worst := 0.0
		for i, w := range weights {
			want := float64(w) / float64(total)
			got := float64(count[fmt.Sprintf("srv-%d", i)]) / MaglevTableSize
			rel := math.Abs(got-want) / want
			worst = max(worst, rel)
			if rel > 0.02 {
				t.Errorf("trial %d: srv-%d (weight %d of %d) holds %.5f of the slots, its weight share is %.5f", trial, i, w, total, got, want)
			}
		}
		if trial == 0 {
			t.Logf("%d servers: largest relative deviation of a slot share from its weight share %.5f", n, worst)
		}
	}
}

// A service whose members have not changed takes both tables over from
// the snapshot in force; a change makes the running table the previous
// one, and a later unchanged snapshot keeps that pair.
func TestMaglevTablesCarryOver(t *testing.T) {
	sc := maglevService(0, 1, []int{1, 1, 1})
	first := compileOne(t, sc, nil)
	l1 := first.serviceByID(0).maglev
	if l1.previous != l1.current {
		t.Fatal("a first snapshot's previous table is not its current one")
	}
	same := compileOne(t, shuffled(rand.New(rand.NewPCG(7, 8)), sc), first)
	if l := same.serviceByID(0).maglev; l.current != l1.current || l.previous != l1.previous {
		t.Fatal("an unchanged service did not keep its tables")
	}
	sc.Servers[1].Weight = 3
	changed := compileOne(t, sc, same)
	l2 := changed.serviceByID(0).maglev
	if l2.previous != l1.current || l2.current == l1.current {
		t.Fatal("a weight change did not keep the running table as the previous one")
	}
	again := compileOne(t, sc, changed)
	if l := again.serviceByID(0).maglev; l.current != l2.current || l.previous != l1.current {
		t.Fatal("an unchanged snapshot after a change lost the previous table")
	}
	other := sc
	other.Port = 81 // another service under the same ID: no history
	if l := compileOne(t, other, again).serviceByID(0).maglev; l.previous != l.current || l.current == l2.current {
		t.Fatal("a different service took over the tables of the ID's former one")
	}
}

func TestMaglevNeedsDistinctNames(t *testing.T) {
	sc := maglevService(0, 1, []int{1, 1, 0})
	sc.Servers[1].Name = sc.Servers[0].Name
	if _, err := NewSnapshot(&Config{GatewayMAC: gwMAC, Services: []ServiceConfig{sc}}); err == nil {
		t.Fatal("two servers of weight > 0 with one name accepted")
	}
	sc.Servers[1].Name, sc.Servers[2].Name = "other", sc.Servers[0].Name // a quiesced namesake takes no slot
	if _, err := NewSnapshot(&Config{GatewayMAC: gwMAC, Services: []ServiceConfig{sc}}); err != nil {
		t.Fatal(err)
	}
	sc.Servers[1].Name = ""
	if _, err := NewSnapshot(&Config{GatewayMAC: gwMAC, Services: []ServiceConfig{sc}}); err == nil {
		t.Fatal("a nameless server accepted in a maglev service")
	}
	sc.Scheduler = 7
	if _, err := NewSnapshot(&Config{GatewayMAC: gwMAC, Services: []ServiceConfig{sc}}); err == nil {
		t.Fatal("an unknown scheduler accepted")
	}
}
