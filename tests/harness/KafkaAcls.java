// Creates the ACLs of a secured test broker in one go (one JVM start instead of one per
// kafka-acls call), then waits until the broker's authorizer knows them all. Run by stack.py with
// Java's source launcher:
//
//   java -cp '<kafka jars>/*' KafkaAcls.java admin.properties acls.txt
//
// acls.txt: one ALLOW entry a line, "principal resource-type pattern-type name operation", e.g.
// "User:routing TOPIC PREFIXED meldpunt.dispatch. WRITE"; '#' starts a comment.
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class KafkaAcls {
  public static void main(String[] args) throws Exception {
    Properties properties = new Properties();
    try (var in = Files.newInputStream(Path.of(args[0]))) {
      properties.load(in);
    }
    List<AclBinding> acls = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of(args[1]))) {
      line = line.strip();
      if (line.isEmpty() || line.startsWith("#")) continue;
      String[] f = line.split("\\s+");
      if (f.length != 5) throw new IllegalArgumentException("bad ACL line: " + line);
      ResourcePattern resource = new ResourcePattern(ResourceType.fromString(f[1]), f[3],
                                                     PatternType.fromString(f[2]));
      AccessControlEntry entry = new AccessControlEntry(f[0], "*", AclOperation.fromString(f[4]),
                                                        AclPermissionType.ALLOW);
      if (resource.resourceType() == ResourceType.UNKNOWN
          || resource.patternType() == PatternType.UNKNOWN
          || entry.operation() == AclOperation.UNKNOWN) {
        throw new IllegalArgumentException("bad ACL line: " + line);
      }
      acls.add(new AclBinding(resource, entry));
    }
    try (Admin admin = Admin.create(properties)) {
      admin.createAcls(acls).all().get(60, TimeUnit.SECONDS);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (true) {
        int known = admin.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS)
                         .size();
        if (known >= acls.size()) break;
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the broker knows " + known + " of " + acls.size()
                                          + " ACLs after 30 s");
        }
        Thread.sleep(100);
      }
    }
    System.out.println("acls: " + acls.size() + " created");
  }
}
