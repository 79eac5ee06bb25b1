// SPDX-License-Identifier: LGPL-2.1-or-later

// Command podresources asks kubelet's pod-resources API what it allocated, with the
// official client (k8s.io/kubelet/pkg/apis/podresources/v1), and prints it as JSON.
//
//	podresources allocatable [SOCKET]   GetAllocatableResources: {"RESOURCE": ["ID", ...]}
//	podresources list [SOCKET]          List: [{"pod", "namespace", "container",
//	                                    "resource", "ids"}], sorted
//	podresources watch RESOURCE [SOCKET]  polls GetAllocatableResources on one connection
//	                                    every millisecond and prints "UNIX_NS COUNT" each time
//	                                    RESOURCE's count changes (first line: the count at
//	                                    start), until killed: the bench's view of kubelet
//
// SOCKET defaults to /var/lib/kubelet/pod-resources/kubelet.sock. Exits 1 with the error on
// stderr when kubelet does not answer within 30 s.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	podresourcesapi "k8s.io/kubelet/pkg/apis/podresources/v1"
)

type entry struct {
	Pod       string   `json:"pod"`
	Namespace string   `json:"namespace"`
	Container string   `json:"container"`
	Resource  string   `json:"resource"`
	IDs       []string `json:"ids"`
}

func main() {
	if len(os.Args) < 2 || len(os.Args) > 4 {
		fmt.Fprintln(os.Stderr, "usage: podresources allocatable|list [SOCKET] | watch RESOURCE [SOCKET]")
		os.Exit(2)
	}
	args := os.Args[2:]
	watchRes := ""
	if os.Args[1] == "watch" && len(args) > 0 {
		watchRes, args = args[0], args[1:]
	}
	sock := "/var/lib/kubelet/pod-resources/kubelet.sock"
	if len(args) == 1 {
		sock = args[0]
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	c := podresourcesapi.NewPodResourcesListerClient(conn)
	if os.Args[1] == "watch" && watchRes != "" {
		watch(c, watchRes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out any
	switch os.Args[1] {
	case "allocatable":
		r, err := c.GetAllocatableResources(ctx, &podresourcesapi.AllocatableResourcesRequest{})
		if err != nil {
			fail(err)
		}
		m := map[string][]string{}
		for _, d := range r.GetDevices() {
			m[d.GetResourceName()] = append(m[d.GetResourceName()], d.GetDeviceIds()...)
		}
		for _, ids := range m {
			sort.Strings(ids)
		}
		out = m
	case "list":
		r, err := c.List(ctx, &podresourcesapi.ListPodResourcesRequest{})
		if err != nil {
			fail(err)
		}
		es := []entry{}
		for _, p := range r.GetPodResources() {
			for _, ct := range p.GetContainers() {
				for _, d := range ct.GetDevices() {
					ids := append([]string(nil), d.GetDeviceIds()...)
					sort.Strings(ids)
					es = append(es, entry{p.GetName(), p.GetNamespace(), ct.GetName(), d.GetResourceName(), ids})
				}
			}
		}
		// kubelet's order is a map's: sort, so that two answers compare as text.
		sort.Slice(es, func(i, j int) bool {
			a, b := es[i], es[j]
			if a.Namespace+"/"+a.Pod != b.Namespace+"/"+b.Pod {
				return a.Namespace+"/"+a.Pod < b.Namespace+"/"+b.Pod
			}
			return a.Container+" "+a.Resource < b.Container+" "+b.Resource
		})
		out = es
	default:
		fmt.Fprintln(os.Stderr, "usage: podresources allocatable|list [SOCKET]")
		os.Exit(2)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// watch prints "UNIX_NS COUNT" whenever res's allocatable count changes; never returns.
func watch(c podresourcesapi.PodResourcesListerClient, res string) {
	last := -1
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r, err := c.GetAllocatableResources(ctx, &podresourcesapi.AllocatableResourcesRequest{})
		cancel()
		now := time.Now().UnixNano()
		n := 0
		if err == nil {
			for _, d := range r.GetDevices() {
				if d.GetResourceName() == res {
					n += len(d.GetDeviceIds())
				}
			}
		}
		if err == nil && n != last {
			fmt.Printf("%d %d\n", now, n)
			last = n
		}
		time.Sleep(time.Millisecond)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "podresources:", err)
	os.Exit(1)
}
