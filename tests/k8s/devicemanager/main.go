// SPDX-License-Identifier: LGPL-2.1-or-later

// Command devicemanager drives kubelet's own device manager
// (k8s.io/kubernetes/pkg/kubelet/cm/devicemanager, the code kubelet runs) against mdevd.
//
//	devicemanager MDEVD TREE WORK      (run by tests/k8s/run.sh, as root, in a private
//	                                    mount namespace with /var/lib/kubelet on tmpfs)
//
// TREE is the sysfs tree of tests/k8s/node.py; WORK a scratch directory. mdevd runs as the
// node service (`mdevd run --no-apply`) on TREE and serves its pools from
// /var/lib/kubelet/device-plugins, where the manager listens on kubelet.sock as kubelet
// does. The checks are those of kubelet's own tests (pkg/kubelet/cm/devicemanager
// manager_test.go, test/e2e_node/device_plugin_test.go, device_plugin_failures_test.go):
// registration and capacity, Allocate through the manager and the runtime options it
// hands the container runtime, GetPreferredAllocation honoured, the checkpoint, an
// unhealthy device, a kubelet restart, a plugin restart and a pool that goes away.
//
// Every wait is for an event, with a deadline (wait) that only a hang reaches. Prints
// "ok N - ..." / "not ok N - ..." and "N passed, N failed"; exits 1 when a check failed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
	"k8s.io/kubernetes/pkg/kubelet/cm/containermap"
	"k8s.io/kubernetes/pkg/kubelet/cm/devicemanager"
	"k8s.io/kubernetes/pkg/kubelet/cm/topologymanager"
)

const (
	grid     = "nvidia.com/GRID_T4-1Q"
	edu      = "example.com/EDU"
	gridEnv  = "MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q" // KubeVirt's contract for mdevs
	eduEnv   = "PCI_RESOURCE_EXAMPLE_COM_EDU"            // and for PCI functions
	dpDir    = "/var/lib/kubelet/device-plugins"
	ckptFile = dpDir + "/kubelet_internal_checkpoint"
	wait     = 60 * time.Second // a deadline for hangs only, never for speed
)

type sourcesReady struct{}

func (sourcesReady) AddSource(string) {}
func (sourcesReady) AllReady() bool   { return true }

// harness holds the manager (kubelet's side), the mdevd process and the pods admitted.
type harness struct {
	mdevd, tree, work, policy, metrics string
	m                                  *devicemanager.ManagerImpl
	proc                               *exec.Cmd
	exited                             chan error
	pods                               []*v1.Pod
	handed                             map[string][]string // pod UID -> IDs from the env
	passed, failed                     int
}

func (h *harness) say(format string, a ...any) { fmt.Printf(format+"\n", a...) }

// check runs one step; a step fails by returning an error.
func (h *harness) check(what string, fn func() error) {
	n := h.passed + h.failed + 1
	t0 := time.Now()
	if err := fn(); err != nil {
		h.failed++
		h.say("not ok %d - %s\n#   %s", n, what, strings.ReplaceAll(err.Error(), "\n", "\n#   "))
		h.say("#   mdevd log (tail):\n%s", indent(tail(filepath.Join(h.work, "mdevd.log"), 15)))
		return
	}
	h.passed++
	h.say("ok %d - %s (%.1fs)", n, what, time.Since(t0).Seconds())
}

func (h *harness) activePods() []*v1.Pod { return h.pods }

func (h *harness) startManager() error {
	m, err := devicemanager.NewManagerImpl(nil, topologymanager.NewFakeManager())
	if err != nil {
		return fmt.Errorf("NewManagerImpl: %v", err)
	}
	if err := m.Start(klog.Background(), h.activePods, sourcesReady{}, containermap.NewContainerMap(),
		sets.New[string]()); err != nil {
		return fmt.Errorf("Start: %v", err)
	}
	h.m = m
	return nil
}

func (h *harness) startMdevd() error {
	log, err := os.OpenFile(filepath.Join(h.work, "mdevd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	h.proc = exec.Command(h.mdevd, "--sysfs-root", h.tree, "run", "--policy", h.policy,
		"--device-plugin-dir", dpDir, "--no-apply", "--no-libvirt", "--resync", "0",
		"--status-socket", filepath.Join(h.work, "status.sock"), "--metrics-address", h.metrics,
		"--log-level", "debug")
	h.proc.Stdout, h.proc.Stderr = log, log
	if err := h.proc.Start(); err != nil {
		return err
	}
	h.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(h.proc, h.exited)
	return nil
}

func (h *harness) stopMdevd() error {
	if err := h.proc.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-h.exited:
		if err != nil {
			return fmt.Errorf("mdevd exited with %v after SIGTERM", err)
		}
		return nil
	case <-time.After(wait):
		_ = h.proc.Process.Kill()
		return fmt.Errorf("mdevd still running %v after SIGTERM", wait)
	}
}

// counts is kubelet's view of one resource: capacity and allocatable from GetCapacity.
type counts struct{ capacity, allocatable int64 }

func (h *harness) view(res string) counts {
	c, a, _ := h.m.GetCapacity()
	q1, q2 := c[v1.ResourceName(res)], a[v1.ResourceName(res)]
	return counts{q1.Value(), q2.Value()}
}

// until polls kubelet's view until want holds: kubelet learns of changes on its own
// ListAndWatch streams, so this waits for an event, not for time.
func (h *harness) until(what string, ok func() bool) error {
	end := time.Now().Add(wait)
	for time.Now().Before(end) {
		if ok() {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s: not within %v (grid %+v, edu %+v)", what, wait, h.view(grid), h.view(edu))
}

func (h *harness) viewIs(res string, want counts) func() bool {
	return func() bool { return h.view(res) == want }
}

func pod(name string, res string, n int64) *v1.Pod {
	q := *resource.NewQuantity(n, resource.DecimalSI)
	rl := v1.ResourceList{v1.ResourceName(res): q}
	return &v1.Pod{
		ObjectMeta: metav1ObjectMeta(name),
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c",
			Resources: v1.ResourceRequirements{Limits: rl, Requests: rl}}}},
	}
}

// allocate admits p through the manager as kubelet does (Allocate, then the runtime
// options for the container) and returns the env and the host device paths.
func (h *harness) allocate(p *v1.Pod) (map[string]string, []string, error) {
	h.pods = append(h.pods, p)
	c := &p.Spec.Containers[0]
	if err := h.m.Allocate(p, c); err != nil {
		return nil, nil, fmt.Errorf("Allocate(%s): %v", p.Name, err)
	}
	opts, err := h.m.GetDeviceRunContainerOptions(context.Background(), p, c)
	if err != nil || opts == nil {
		return nil, nil, fmt.Errorf("GetDeviceRunContainerOptions(%s): %v", p.Name, err)
	}
	env := map[string]string{}
	for _, e := range opts.Envs {
		env[e.Name] = e.Value
	}
	var devs []string
	for _, d := range opts.Devices {
		if d.PathOnHost != d.PathInContainer || d.Permissions != "mrw" {
			return nil, nil, fmt.Errorf("device spec %+v: want the same path inside, mrw", d)
		}
		devs = append(devs, d.PathOnHost)
	}
	sort.Strings(devs)
	return env, devs, nil
}

// kubeletIDs is what the manager holds for p's container, per resource.
func (h *harness) kubeletIDs(p *v1.Pod) map[string][]string {
	out := map[string][]string{}
	for res, devs := range h.m.GetDevices(string(p.UID), "c") {
		for id := range devs {
			out[res] = append(out[res], id)
		}
		sort.Strings(out[res])
	}
	return out
}

// group is the IOMMU group of an mdev (by UUID) or PCI function (by address) in the tree.
func (h *harness) group(id string) string {
	p := filepath.Join(h.tree, "bus/pci/devices", id, "iommu_group")
	if !strings.Contains(id, ":") {
		p = filepath.Join(h.tree, "bus/mdev/devices", id, "iommu_group")
	}
	l, err := os.Readlink(p)
	if err != nil {
		return "?"
	}
	return filepath.Base(l)
}

// preferred asks mdevd's plugin directly which size devices of avail it prefers.
func preferred(res string, avail []string, size int32) ([]string, error) {
	sock := filepath.Join(dpDir, "mdevd-"+strings.ReplaceAll(res, "/", "_")+".sock")
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	r, err := pluginapi.NewDevicePluginClient(conn).GetPreferredAllocation(ctx,
		&pluginapi.PreferredAllocationRequest{ContainerRequests: []*pluginapi.ContainerPreferredAllocationRequest{
			{AvailableDeviceIDs: avail, AllocationSize: size}}})
	if err != nil {
		return nil, err
	}
	ids := r.ContainerResponses[0].DeviceIDs
	sort.Strings(ids)
	return ids, nil
}

// metric reads one sample of mdevd's /metrics (0 when the series is absent).
func (h *harness) metric(series string) (float64, error) {
	r, err := http.Get("http://" + h.metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer r.Body.Close()
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, sc.Err()
}

func (h *harness) writePolicy(withEdu bool) error {
	p := map[string]any{"permittedHostDevices": map[string]any{
		"mediatedDevices": []any{map[string]any{"mdevNameSelector": "GRID T4-1Q", "resourceName": grid}},
	}}
	if withEdu {
		p["permittedHostDevices"].(map[string]any)["pciHostDevices"] = []any{
			map[string]any{"pciVendorSelector": "1234:11E8", "resourceName": edu}}
	}
	b, _ := json.Marshal(p)
	tmp := h.policy + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, h.policy)
}

// removeMdev takes an mdev away from the tree behind mdevd's back, as an out-of-band
// `remove` would; mdevd notices on its next read (SIGHUP here: a tree has no uevents).
func (h *harness) removeMdev(uuid string) error {
	link := filepath.Join(h.tree, "bus/mdev/devices", uuid)
	dir, err := filepath.EvalSymlinks(link)
	if err != nil {
		return err
	}
	typ, err := os.Readlink(filepath.Join(dir, "mdev_type"))
	if err != nil {
		return err
	}
	typeDir := filepath.Join(dir, typ)
	for _, p := range []string{link, filepath.Join(typeDir, "devices", uuid)} {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return os.RemoveAll(dir)
}

type checkpointFile struct {
	Data struct {
		PodDeviceEntries []struct {
			PodUID, ContainerName, ResourceName string
			DeviceIDs                           map[string][]string
		}
		RegisteredDevices map[string][]string
	}
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: devicemanager MDEVD TREE WORK")
		os.Exit(2)
	}
	// kubelet's own log (klog) goes to a file beside mdevd's, not into the TAP output.
	klog.InitFlags(nil)
	_ = flag.Set("logtostderr", "false")
	_ = flag.Set("alsologtostderr", "false")
	_ = flag.Set("stderrthreshold", "FATAL")
	_ = flag.Set("log_file", filepath.Join(os.Args[3], "kubelet.log"))
	_ = flag.Set("v", "4")
	defer klog.Flush()
	h := &harness{mdevd: os.Args[1], tree: os.Args[2], work: os.Args[3],
		metrics: "127.0.0.1:" + freePort(), handed: map[string][]string{}}
	h.policy = filepath.Join(h.work, "policy.json")
	gridIDs := listIDs(filepath.Join(h.tree, "bus/mdev/devices"))
	eduIDs := []string{"0000:00:03.0", "0000:00:04.0"}
	var pod1, pod2, pod3 *v1.Pod
	var gone string

	h.check("kubelet's device manager listens; mdevd registers both pools; capacity = allocatable = pool size", func() error {
		if err := os.MkdirAll(dpDir, 0o755); err != nil {
			return err
		}
		if err := h.writePolicy(true); err != nil {
			return err
		}
		if err := h.startManager(); err != nil {
			return err
		}
		if err := h.startMdevd(); err != nil {
			return err
		}
		if err := h.until("both pools registered", func() bool {
			return h.view(grid) == counts{6, 6} && h.view(edu) == counts{2, 2}
		}); err != nil {
			return err
		}
		if len(gridIDs) != 6 {
			return fmt.Errorf("the tree has %d mdevs, not 6", len(gridIDs))
		}
		return nil
	})

	h.check("GetPreferredAllocation is called and honoured: 2 GRID T4-1Q on one card, KubeVirt's env and /dev/vfio specs", func() error {
		want, err := preferred(grid, gridIDs, 2)
		if err != nil {
			return fmt.Errorf("GetPreferredAllocation, asked directly: %v", err)
		}
		const series = `mdevd_device_plugin_requests_total{resource="nvidia.com/GRID_T4-1Q",method="GetPreferredAllocation",result="ok"}`
		before, err := h.metric(series)
		if err != nil {
			return err
		}
		pod1 = pod("pod1", grid, 2)
		env, devs, err := h.allocate(pod1)
		if err != nil {
			return err
		}
		after, err := h.metric(series)
		if err != nil {
			return err
		}
		if after != before+1 {
			return fmt.Errorf("kubelet did not call GetPreferredAllocation (%s %v -> %v)", series, before, after)
		}
		got := strings.Split(env[gridEnv], ",")
		sort.Strings(got)
		if len(env) != 1 || strings.Join(got, ",") != strings.Join(want, ",") {
			return fmt.Errorf("env %v; mdevd prefers %v", env, want)
		}
		if got[0][:8] != got[1][:8] {
			return fmt.Errorf("the two devices %v are on different cards", got)
		}
		wantDevs := []string{"/dev/vfio/" + h.group(got[0]), "/dev/vfio/" + h.group(got[1]), "/dev/vfio/vfio"}
		sort.Strings(wantDevs)
		if strings.Join(devs, " ") != strings.Join(wantDevs, " ") {
			return fmt.Errorf("device specs %v, want %v", devs, wantDevs)
		}
		h.handed[string(pod1.UID)] = got
		h.say("# %s=%s", gridEnv, env[gridEnv])
		return nil
	})

	h.check("Allocate of a PCI pool: PCI_RESOURCE_EXAMPLE_COM_EDU, groups and the iommufd cdev", func() error {
		pod2 = pod("pod2", edu, 2)
		env, devs, err := h.allocate(pod2)
		if err != nil {
			return err
		}
		got := strings.Split(env[eduEnv], ",")
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(eduIDs, ",") {
			return fmt.Errorf("env %v", env)
		}
		want := []string{"/dev/vfio/vfio", "/dev/vfio/2", "/dev/vfio/3"}
		// The cdev and /dev/iommu only where the kernel has iommufd (mdevd looks for
		// /dev/iommu; Debian 12's 6.1 kernel predates vfio cdevs).
		if _, err := os.Stat("/dev/iommu"); err == nil {
			want = append(want, "/dev/vfio/devices/vfio7", "/dev/iommu")
		} else if sets.New(devs...).Has("/dev/vfio/devices/vfio7") {
			return fmt.Errorf("the cdev is in the specs %v, but this host has no /dev/iommu", devs)
		}
		for _, d := range want {
			if !sets.New(devs...).Has(d) {
				return fmt.Errorf("no %s in the device specs %v", d, devs)
			}
		}
		h.handed[string(pod2.UID)] = got
		h.say("# %s=%s; devices %s", eduEnv, env[eduEnv], strings.Join(devs, " "))
		return nil
	})

	h.check("the checkpoint kubelet writes names exactly the IDs mdevd handed out", func() error {
		return h.checkCheckpoint(gridIDs, eduIDs)
	})

	h.check("an allocated mdev removed out of band turns Unhealthy: allocatable drops, capacity stays", func() error {
		gone = h.handed[string(pod1.UID)][0]
		if err := h.removeMdev(gone); err != nil {
			return err
		}
		if err := h.proc.Process.Signal(syscall.SIGHUP); err != nil {
			return err
		}
		return h.until("grid 6 / 5", h.viewIs(grid, counts{6, 5}))
	})

	h.check("kubelet restart (new manager, sockets wiped, checkpoint kept): mdevd re-registers, assignments survive", func() error {
		if err := h.m.Stop(klog.Background()); err != nil {
			return err
		}
		t0 := time.Now()
		if err := h.startManager(); err != nil {
			return err
		}
		if err := h.until("re-registered", func() bool {
			return h.view(grid).allocatable == 5 && h.view(edu) == counts{2, 2}
		}); err != nil {
			return err
		}
		h.say("# re-registration after the kubelet restart: %d ms (a figure; make bench judges speed)",
			time.Since(t0).Milliseconds())
		for _, p := range []*v1.Pod{pod1, pod2} {
			res := map[*v1.Pod]string{pod1: grid, pod2: edu}[p]
			if got := h.kubeletIDs(p)[res]; strings.Join(got, ",") != strings.Join(h.handed[string(p.UID)], ",") {
				return fmt.Errorf("%s after the restart: %v, handed %v", p.Name, got, h.handed[string(p.UID)])
			}
		}
		return h.checkCheckpoint(gridIDs, eduIDs)
	})

	// mdevd sends an empty list before it stops a plugin (as KubeVirt's plugins do), so
	// kubelet drops capacity and allocatable to 0 at once instead of keeping the capacity
	// of a vanished plugin for its 5-minute grace period.
	h.check("plugin restart: capacity and allocatable 0 while mdevd is down, back when it registers; a new pod gets only free devices", func() error {
		if err := h.stopMdevd(); err != nil {
			return err
		}
		if err := h.until("allocatable 0", func() bool {
			return h.view(grid) == counts{0, 0} && h.view(edu) == counts{0, 0}
		}); err != nil {
			return err
		}
		if err := h.startMdevd(); err != nil {
			return err
		}
		if err := h.until("registered again", func() bool {
			return h.view(grid).allocatable == 5 && h.view(edu) == counts{2, 2}
		}); err != nil {
			return err
		}
		pod3 = pod("pod3", grid, 3)
		env, _, err := h.allocate(pod3)
		if err != nil {
			return err
		}
		got := strings.Split(env[gridEnv], ",")
		held := sets.New(h.handed[string(pod1.UID)]...)
		if len(got) != 3 || held.HasAny(got...) {
			return fmt.Errorf("pod3 got %v; pod1 holds %v", got, sets.List(held))
		}
		h.handed[string(pod3.UID)] = got
		return nil
	})

	h.check("a pool dropped from the policy: its capacity and allocatable go to 0, the other pool stays", func() error {
		if err := h.writePolicy(false); err != nil {
			return err
		}
		if err := h.proc.Process.Signal(syscall.SIGHUP); err != nil {
			return err
		}
		if err := h.until("edu 0 / 0", h.viewIs(edu, counts{0, 0})); err != nil {
			return err
		}
		if v := h.view(grid); v.allocatable != 5 {
			return fmt.Errorf("grid changed with the edu pool: %+v", v)
		}
		return nil
	})

	h.check("SIGTERM: mdevd stops cleanly and its sockets are gone", func() error {
		if err := h.stopMdevd(); err != nil {
			return err
		}
		left, _ := filepath.Glob(filepath.Join(dpDir, "mdevd-*.sock"))
		if len(left) > 0 {
			return fmt.Errorf("sockets left: %v", left)
		}
		return h.m.Stop(klog.Background())
	})
	if h.proc != nil && h.proc.ProcessState == nil {
		_ = h.proc.Process.Kill()
	}
	fmt.Printf("%d passed, %d failed\n", h.passed, h.failed)
	klog.Flush()
	if h.failed > 0 {
		os.Exit(1)
	}
}

func (h *harness) checkCheckpoint(gridIDs, eduIDs []string) error {
	b, err := os.ReadFile(ckptFile)
	if err != nil {
		return err
	}
	var c checkpointFile
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("%s: %v", ckptFile, err)
	}
	seen := map[string][]string{}
	for _, e := range c.Data.PodDeviceEntries {
		for _, ids := range e.DeviceIDs {
			seen[e.PodUID] = append(seen[e.PodUID], ids...)
		}
	}
	for uid, handed := range h.handed {
		got := seen[uid]
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(handed, ",") {
			return fmt.Errorf("checkpoint has %v for pod %s; mdevd handed out %v", got, uid, handed)
		}
	}
	if len(seen) != len(h.handed) {
		return fmt.Errorf("checkpoint has %d pods, %d were admitted", len(seen), len(h.handed))
	}
	for res, want := range map[string][]string{grid: gridIDs, edu: eduIDs} {
		got := append([]string(nil), c.Data.RegisteredDevices[res]...)
		sort.Strings(got)
		if res == grid && len(got) < len(want)-1 || res == edu && strings.Join(got, ",") != strings.Join(want, ",") {
			return fmt.Errorf("checkpoint's registered %s: %v, served %v", res, got, want)
		}
	}
	return nil
}

func metav1ObjectMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)}
}

func listIDs(dir string) []string {
	es, _ := os.ReadDir(dir)
	var ids []string
	for _, e := range es {
		ids = append(ids, e.Name())
	}
	sort.Strings(ids)
	return ids
}

func freePort() string {
	// The kernel picks a free loopback port; mdevd binds it a moment later.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "9478"
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string { return "#     " + strings.ReplaceAll(s, "\n", "\n#     ") }
