// Counters of a running benchmark broker, read without restarting it and without opening a port:
// the broker's own request metrics (kafka.network:type=RequestMetrics,name=RequestsPerSec, the
// Count of each request type, summed over its versions) through the local JMX agent that the
// Attach API starts inside the broker's JVM, and the end offsets of every topic through the admin
// client. One JVM for a whole benchmark part: bench.py writes a command a line and reads one JSON
// line back.
//
//   java -cp '<kafka jars>/*' tools/bench/BrokerCounters.java <broker pid> <bootstrap servers>
//
// Commands: "offsets" -> {"offsets": {"<topic>": <sum of the partitions' end offsets>}}
//           "snap"    -> the same plus "requests": {"Produce": n, "Fetch": n, ...}
//           "quit"
// The end offsets are the log end offsets (read-uncommitted): transaction markers count too.
// Kafka's own JmxTool (kafka-tools) is not among the jars tools/setup fetches, and it needs a JMX
// port, which the harness's broker does not open; the Attach API needs neither.
import com.sun.tools.attach.VirtualMachine;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;

public class BrokerCounters {
  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: BrokerCounters.java <broker pid> <bootstrap servers>");
      System.exit(2);
    }
    VirtualMachine vm = VirtualMachine.attach(args[0]);
    String address = vm.startLocalManagementAgent();
    vm.detach();
    Properties properties = new Properties();
    properties.put("bootstrap.servers", args[1]);
    properties.put("client.id", "meldpunt-bench-counters");
    try (JMXConnector jmx = JMXConnectorFactory.connect(new JMXServiceURL(address));
         Admin admin = Admin.create(properties)) {
      MBeanServerConnection beans = jmx.getMBeanServerConnection();
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
      for (String line; (line = in.readLine()) != null; ) {
        String command = line.trim();
        if (command.equals("quit")) break;
        StringBuilder out = new StringBuilder("{\"offsets\": ");
        json(out, offsets(admin));
        if (command.equals("snap")) {
          out.append(", \"requests\": ");
          json(out, requests(beans));
        } else if (!command.equals("offsets")) {
          System.err.println("unknown command " + command);
          System.exit(2);
        }
        System.out.println(out.append("}"));
        System.out.flush();
      }
    }
  }

  static Map<String, Long> requests(MBeanServerConnection beans) throws Exception {
    Map<String, Long> counts = new TreeMap<>();
    Set<ObjectName> names = beans.queryNames(
        new ObjectName("kafka.network:type=RequestMetrics,name=RequestsPerSec,*"), null);
    for (ObjectName name : names) {
      long count = ((Number) beans.getAttribute(name, "Count")).longValue();
      counts.merge(name.getKeyProperty("request"), count, Long::sum);
    }
    return counts;
  }

  static Map<String, Long> offsets(Admin admin) throws Exception {
    Set<String> topics = admin.listTopics().names().get(30, TimeUnit.SECONDS);
    Map<String, TopicDescription> described =
        admin.describeTopics(topics).allTopicNames().get(30, TimeUnit.SECONDS);
    Map<TopicPartition, OffsetSpec> wanted = new HashMap<>();
    for (TopicDescription topic : described.values()) {
      for (TopicPartitionInfo p : topic.partitions()) {
        wanted.put(new TopicPartition(topic.name(), p.partition()), OffsetSpec.latest());
      }
    }
    Map<String, Long> sums = new TreeMap<>();
    for (String topic : topics) sums.put(topic, 0L);
    Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends =
        admin.listOffsets(wanted).all().get(30, TimeUnit.SECONDS);
    for (var e : ends.entrySet()) sums.merge(e.getKey().topic(), e.getValue().offset(), Long::sum);
    return sums;
  }

  static void json(StringBuilder out, Map<String, Long> map) {
    out.append('{');
    String sep = "";
    for (var e : map.entrySet()) {
      out.append(sep).append('"').append(e.getKey()).append("\": ").append(e.getValue());
      sep = ", ";
    }
    out.append('}');
  }
}
