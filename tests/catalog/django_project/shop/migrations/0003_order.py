import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0002_description")]
    operations = [
        migrations.CreateModel(
            name="Order",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("token", models.UUIDField(null=True, unique=True)),
                ("product", models.ForeignKey(on_delete=models.CASCADE, related_name="orders", to="shop.product")),
                ("quantity", models.PositiveIntegerField(default=1)),
            ],
        ),
    ]
