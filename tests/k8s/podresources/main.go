// SPDX-License-Identifier: LGPL-2.1-or-later

// Command podresources asks kubelet's pod-resources API what it allocated, with the
// official client (k8s.io/kubelet/pkg/apis/podresources/v1), and prints it as JSON.
//
//	podresources allocatable [SOCKET]   GetAllocatableResources: {"RESOURCE": ["ID", ...]}
//	podresources list [SOCKET]          List: [{"pod", "namespace", "container",
//	                                    "resource", "ids"}], sorted
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
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: podresources allocatable|list [SOCKET]")
		os.Exit(2)
	}
	sock := "/var/lib/kubelet/pod-resources/kubelet.sock"
	if len(os.Args) == 3 {
		sock = os.Args[2]
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := podresourcesapi.NewPodResourcesListerClient(conn)
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

func fail(err error) {
	fmt.Fprintln(os.Stderr, "podresources:", err)
	os.Exit(1)
}
