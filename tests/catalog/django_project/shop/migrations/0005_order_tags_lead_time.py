from django.contrib.postgres.fields import ArrayField
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0004_order_details")]
    operations = [
        migrations.AddField(
            model_name="order",
            name="tags",
            field=ArrayField(models.CharField(max_length=20), default=list),
        ),
        migrations.AddField(model_name="order", name="lead_time", field=models.DurationField(null=True)),
    ]
