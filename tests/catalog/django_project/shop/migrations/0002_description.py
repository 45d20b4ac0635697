from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.AddField(model_name="product", name="blurb", field=models.TextField(null=True)),
        migrations.RenameField(model_name="product", old_name="blurb", new_name="description"),
        migrations.AlterField(model_name="product", name="title", field=models.CharField(db_index=True, max_length=100)),
    ]
